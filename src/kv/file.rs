//! `--kv-store PATH`: the store in a redb file. Every write is committed (fsync) before its
//! caller hears back, so a reply the client got is never lost, even to `kill -9` or a power
//! cut. Writes from all connections go to one writer thread that commits them in batches
//! (group commit): one fsync covers every write that arrived while the last one ran.
//! Reads run on the blocking pool against the last commit.

use super::{decode_value, encode_value, KeyId, StoreError};
use crate::proto::xmlrpc::Value;
use redb::{Database, ReadableTable, TableDefinition};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Key identity → 8-byte big-endian insertion sequence number, then the encoded value.
const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entries");
/// Insertion sequence number → the key as first set, encoded (for `keys()`).
const ORDER: TableDefinition<u64, &[u8]> = TableDefinition::new("order");

/// Most writes committed together.
const MAX_BATCH: usize = 1024;

enum Write {
    Set(KeyId, Value, Value),
    Delete(KeyId),
}

struct Job {
    write: Write,
    /// For a delete: whether the key was there.
    done: oneshot::Sender<Result<bool, StoreError>>,
}

#[derive(Clone)]
pub struct FileStore {
    db: Arc<Database>,
    writes: mpsc::UnboundedSender<Job>,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

fn seq_of(record: &[u8]) -> Result<u64, StoreError> {
    record
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StoreError::Backend("corrupt entry: shorter than 8 bytes".into()))
}

impl FileStore {
    /// Opens or creates the file; fails if another process has it open.
    pub async fn open(path: PathBuf) -> Result<FileStore, StoreError> {
        let db = tokio::task::spawn_blocking(move || -> Result<Database, StoreError> {
            let db = Database::create(&path)
                .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
            let txn = db.begin_write().map_err(backend)?;
            txn.open_table(ENTRIES).map_err(backend)?;
            txn.open_table(ORDER).map_err(backend)?;
            txn.commit().map_err(backend)?;
            Ok(db)
        })
        .await
        .map_err(backend)??;
        let db = Arc::new(db);
        let (writes, jobs) = mpsc::unbounded_channel();
        let writer_db = db.clone();
        std::thread::Builder::new()
            .name("netkit-kv-writer".into())
            .spawn(move || writer(writer_db, jobs))
            .map_err(backend)?;
        Ok(FileStore { db, writes })
    }

    async fn write(&self, write: Write) -> Result<bool, StoreError> {
        let (done, answer) = oneshot::channel();
        self.writes
            .send(Job { write, done })
            .map_err(|_| StoreError::Backend("the writer thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the writer thread has stopped".into()))?
    }

    pub async fn set(&self, id: KeyId, key: Value, value: Value) -> Result<(), StoreError> {
        self.write(Write::Set(id, key, value)).await.map(|_| ())
    }

    pub async fn delete(&self, id: KeyId) -> Result<bool, StoreError> {
        self.write(Write::Delete(id)).await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(backend)?
    }

    pub async fn get(&self, id: KeyId) -> Result<Option<Value>, StoreError> {
        self.read(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let entries = txn.open_table(ENTRIES).map_err(backend)?;
            let Some(record) = entries.get(id.as_bytes()).map_err(backend)? else {
                return Ok(None);
            };
            let record = record.value();
            seq_of(record)?;
            decode_value(&record[8..]).map(Some)
        })
        .await
    }

    pub async fn keys(&self) -> Result<Vec<Value>, StoreError> {
        self.read(|db| {
            let txn = db.begin_read().map_err(backend)?;
            let order = txn.open_table(ORDER).map_err(backend)?;
            let mut keys = Vec::new();
            for row in order.iter().map_err(backend)? {
                let (_, key) = row.map_err(backend)?;
                keys.push(decode_value(key.value())?);
            }
            Ok(keys)
        })
        .await
    }
}

/// The writer thread: takes every queued write, applies them in one transaction, commits,
/// then answers each. Ends when every [`FileStore`] clone is gone.
fn writer(db: Arc<Database>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match apply(&db, &batch) {
            Ok(answers) => {
                for (job, answer) in batch.into_iter().zip(answers) {
                    let _ = job.done.send(Ok(answer));
                }
            }
            Err(error) => {
                tracing::error!(%error, "kv store: commit failed");
                for job in batch {
                    let _ = job.done.send(Err(StoreError::Backend(error.to_string())));
                }
            }
        }
    }
}

fn apply(db: &Database, batch: &[Job]) -> Result<Vec<bool>, StoreError> {
    let txn = db.begin_write().map_err(backend)?;
    let mut answers = Vec::with_capacity(batch.len());
    {
        let mut entries = txn.open_table(ENTRIES).map_err(backend)?;
        let mut order = txn.open_table(ORDER).map_err(backend)?;
        let mut next = match order.last().map_err(backend)? {
            Some((seq, _)) => seq.value() + 1,
            None => 0,
        };
        for job in batch {
            match &job.write {
                Write::Set(id, key, value) => {
                    let existing = match entries.get(id.as_bytes()).map_err(backend)? {
                        Some(record) => Some(seq_of(record.value())?),
                        None => None,
                    };
                    let seq = match existing {
                        Some(seq) => seq,
                        None => {
                            let seq = next;
                            next += 1;
                            order
                                .insert(seq, encode_value(key).as_slice())
                                .map_err(backend)?;
                            seq
                        }
                    };
                    let mut record = seq.to_be_bytes().to_vec();
                    record.extend_from_slice(&encode_value(value));
                    entries
                        .insert(id.as_bytes(), record.as_slice())
                        .map_err(backend)?;
                    answers.push(true);
                }
                Write::Delete(id) => {
                    let removed = match entries.remove(id.as_bytes()).map_err(backend)? {
                        Some(record) => Some(seq_of(record.value())?),
                        None => None,
                    };
                    if let Some(seq) = removed {
                        order.remove(seq).map_err(backend)?;
                    }
                    answers.push(removed.is_some());
                }
            }
        }
    }
    txn.commit().map_err(backend)?;
    Ok(answers)
}
