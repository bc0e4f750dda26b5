//! The recipe's store: a dict in memory, lost on exit.

use super::KeyId;
use crate::proto::xmlrpc::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// Insertion order is a sequence number per key, so `delete` is O(log n), not O(n).
#[derive(Default)]
struct State {
    next: u64,
    entries: HashMap<KeyId, (u64, Value, Value)>,
    order: BTreeMap<u64, KeyId>,
}

#[derive(Clone, Default)]
pub struct MemoryStore(Arc<Mutex<State>>);

impl MemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a way that
        // matters more than losing the whole store would.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set(&self, id: KeyId, key: Value, value: Value) {
        let mut state = self.state();
        if let Some(entry) = state.entries.get_mut(&id) {
            entry.2 = value;
            return;
        }
        let seq = state.next;
        state.next += 1;
        state.order.insert(seq, id.clone());
        state.entries.insert(id, (seq, key, value));
    }

    pub fn get(&self, id: &KeyId) -> Option<Value> {
        self.state().entries.get(id).map(|e| e.2.clone())
    }

    pub fn delete(&self, id: &KeyId) -> bool {
        let mut state = self.state();
        match state.entries.remove(id) {
            Some((seq, _, _)) => {
                state.order.remove(&seq);
                true
            }
            None => false,
        }
    }

    pub fn keys(&self) -> Vec<Value> {
        let state = self.state();
        state
            .order
            .values()
            .filter_map(|id| state.entries.get(id).map(|e| e.1.clone()))
            .collect()
    }
}
