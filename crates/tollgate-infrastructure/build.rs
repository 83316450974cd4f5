//! `embed_migrations!` notices edited SQL files but not new migration folders; this makes cargo
//! rebuild the crate whenever anything under `migrations/` changes.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
