//! `wasi:keyvalue/store` and `atomics` over the plugin's backend, namespaced by plugin name.

use wasmtime::component::Resource;

use crate::bindings::wasi::keyvalue::atomics;
use crate::bindings::wasi::keyvalue::store::{self, Error, KeyResponse};
use crate::kv::KvError;
use crate::resources::BucketHandle;
use crate::state::PluginState;

/// Largest number of buckets one instance may hold open.
pub const MAX_OPEN_BUCKETS: usize = 64;

fn to_wit(e: KvError) -> Error {
    Error::Other(e.to_string())
}

impl PluginState {
    fn bucket_name(&self, bucket: &Resource<BucketHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(bucket)?.name.clone())
    }
}

impl store::Host for PluginState {
    async fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<BucketHandle>, Error>> {
        if self.open_buckets >= MAX_OPEN_BUCKETS {
            return Ok(Err(Error::Other(format!(
                "too many open buckets (limit {MAX_OPEN_BUCKETS})"
            ))));
        }
        if identifier.is_empty() || identifier.len() > 256 {
            return Ok(Err(Error::Other(
                "bucket name must be 1..=256 bytes".into(),
            )));
        }
        self.open_buckets += 1;
        Ok(Ok(self.table.push(BucketHandle { name: identifier })?))
    }
}

impl store::HostBucket for PluginState {
    async fn get(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let b = self.bucket_name(&bucket)?;
        Ok(self
            .kv
            .get(&self.plugin.name, &b, &key)
            .await
            .map_err(to_wit))
    }

    async fn set(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let b = self.bucket_name(&bucket)?;
        Ok(self
            .kv
            .set(&self.plugin.name, &b, &key, value)
            .await
            .map_err(to_wit))
    }

    async fn delete(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let b = self.bucket_name(&bucket)?;
        Ok(self
            .kv
            .delete(&self.plugin.name, &b, &key)
            .await
            .map_err(to_wit))
    }

    async fn exists(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let b = self.bucket_name(&bucket)?;
        Ok(self
            .kv
            .exists(&self.plugin.name, &b, &key)
            .await
            .map_err(to_wit))
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<BucketHandle>,
        cursor: Option<u64>,
    ) -> wasmtime::Result<Result<KeyResponse, Error>> {
        let b = self.bucket_name(&bucket)?;
        Ok(self
            .kv
            .list_keys(&self.plugin.name, &b, cursor)
            .await
            .map(|p| KeyResponse {
                keys: p.keys,
                cursor: p.cursor,
            })
            .map_err(to_wit))
    }

    async fn drop(&mut self, bucket: Resource<BucketHandle>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        self.open_buckets = self.open_buckets.saturating_sub(1);
        Ok(())
    }
}

impl atomics::Host for PluginState {
    async fn increment(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        delta: u64,
    ) -> wasmtime::Result<Result<u64, Error>> {
        let b = self.bucket_name(&bucket)?;
        Ok(self
            .kv
            .increment(&self.plugin.name, &b, &key, delta)
            .await
            .map_err(to_wit))
    }
}
