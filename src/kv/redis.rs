//! `--kv-store redis://HOST:PORT[/DB]`: the store in Redis, so several netkit instances
//! can serve one store. Every operation is one Lua script, atomic in Redis, so concurrent
//! writers through different instances keep the dict semantics (insertion order, a re-set
//! key keeps its place). A write's reply is sent after Redis acknowledged it; whether that
//! survives a crash of Redis itself is Redis's persistence setting (AOF `appendfsync`).
//!
//! Layout, under the prefix `netkit:kv:`: hash `values` (key identity → encoded value),
//! hash `keys` (key identity → the key as first set, encoded), sorted set `order` (key
//! identity scored by insertion sequence), counter `seq`.

use super::{decode_value, encode_value, KeyId, StoreError};
use crate::proto::xmlrpc::Value;
use redis::aio::ConnectionManager;
use redis::Script;
use std::sync::Arc;

const VALUES: &str = "netkit:kv:values";
const KEYS: &str = "netkit:kv:keys";
const ORDER: &str = "netkit:kv:order";
const SEQ: &str = "netkit:kv:seq";

const SET: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  local seq = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[3], seq, ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
";

const DELETE: &str = r"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
";

/// HMGET in slices: Lua's unpack() has a limit of a few thousand values.
const LIST_KEYS: &str = r"
local ids = redis.call('ZRANGE', KEYS[3], 0, -1)
local out = {}
for i = 1, #ids, 1000 do
  local part = redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 999, #ids)))
  for _, k in ipairs(part) do out[#out + 1] = k end
end
return out
";

struct Scripts {
    set: Script,
    delete: Script,
    keys: Script,
}

#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    scripts: Arc<Scripts>,
}

fn backend(error: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("redis: {error}"))
}

impl RedisStore {
    /// Connects (and checks the server answers); later losses reconnect on their own.
    pub async fn open(url: &str) -> Result<RedisStore, StoreError> {
        let client =
            redis::Client::open(url).map_err(|e| StoreError::Backend(format!("{url}: {e}")))?;
        let mut connection = ConnectionManager::new(client)
            .await
            .map_err(|e| StoreError::Backend(format!("{url}: {e}")))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|e| StoreError::Backend(format!("{url}: {e}")))?;
        Ok(RedisStore {
            connection,
            scripts: Arc::new(Scripts {
                set: Script::new(SET),
                delete: Script::new(DELETE),
                keys: Script::new(LIST_KEYS),
            }),
        })
    }

    fn invocation<'a>(script: &'a Script, id: &KeyId) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(VALUES)
            .key(KEYS)
            .key(ORDER)
            .key(SEQ)
            .arg(id.as_bytes());
        invocation
    }

    pub async fn set(&self, id: KeyId, key: Value, value: Value) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let mut invocation = Self::invocation(&self.scripts.set, &id);
        invocation.arg(encode_value(&value)).arg(encode_value(&key));
        let _: i64 = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub async fn delete(&self, id: KeyId) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let removed: i64 = Self::invocation(&self.scripts.delete, &id)
            .invoke_async(&mut connection)
            .await
            .map_err(backend)?;
        Ok(removed == 1)
    }

    pub async fn get(&self, id: KeyId) -> Result<Option<Value>, StoreError> {
        let mut connection = self.connection.clone();
        let bytes: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(VALUES)
            .arg(id.as_bytes())
            .query_async(&mut connection)
            .await
            .map_err(backend)?;
        bytes.map(|b| decode_value(&b)).transpose()
    }

    pub async fn keys(&self) -> Result<Vec<Value>, StoreError> {
        let mut connection = self.connection.clone();
        let mut invocation = self.scripts.keys.prepare_invoke();
        invocation.key(VALUES).key(KEYS).key(ORDER).key(SEQ);
        let keys: Vec<Option<Vec<u8>>> = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(backend)?;
        keys.into_iter()
            .flatten()
            .map(|b| decode_value(&b))
            .collect()
    }
}
