//! `embed_migrations!` notices edited SQL files but not new migration folders; this makes cargo
//! rebuild the crate whenever anything under `migrations/` changes.
//!
//! `migrations` is a symlink to the workspace's top-level `migrations/` (one copy of each
//! migration); `cargo package` follows it, so the published crate carries real files.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
