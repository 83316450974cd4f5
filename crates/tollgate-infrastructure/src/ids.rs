use rand::rngs::OsRng;
use rand::RngCore;
use tollgate_application::IdGenerator;
use uuid::Uuid;

/// Random v4 UUIDs and secret bytes from the operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_uuid(&self) -> Uuid {
        Uuid::new_v4()
    }

    /// Straight from the OS, as `new_uuid` is: like it, this panics only if the operating
    /// system cannot supply randomness at all, when no secret could be made safely anyway.
    fn secret_bytes(&self) -> [u8; 32] {
        let mut bytes = [0; 32];
        OsRng.fill_bytes(&mut bytes);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_bytes_differ_between_calls() {
        assert_ne!(RandomIds.secret_bytes(), RandomIds.secret_bytes());
        assert_ne!(RandomIds.secret_bytes(), [0; 32]);
    }
}
