//! The host-side types behind WIT resources, shared by the generated bindings (which map
//! the resources to them) and the host implementations (which create and read them).

/// An open `wasi:keyvalue` bucket, as held in the resource table.
#[derive(Debug, Clone)]
pub struct BucketHandle {
    /// The name the plugin opened it with.
    pub(crate) name: String,
}
