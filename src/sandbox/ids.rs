//! New IDs from a counter: each ID is a fixed scramble (splitmix64) of the next counter value,
//! so a fresh sandbox hands out the same IDs in the same order every run.

const UPPER: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// The ID generator; `counter` is how many IDs it has handed out.
#[derive(Clone, Debug, Default)]
pub struct IdGen {
    counter: u64,
}

impl IdGen {
    fn next_bits(&mut self) -> u64 {
        self.counter += 1;
        splitmix64(self.counter)
    }

    /// A chat ID like `PJ0MRSHTDG`: 10 characters, `P` then 9 of `[0-9A-Z]`.
    pub fn chat_id(&mut self) -> String {
        self.upper('P')
    }

    /// A thread ID like `QR8E5RKF2C`.
    pub fn thread_id(&mut self) -> String {
        self.upper('Q')
    }

    fn upper(&mut self, first: char) -> String {
        let mut bits = self.next_bits();
        let mut id = String::with_capacity(10);
        id.push(first);
        for _ in 0..9 {
            id.push(char::from(UPPER[(bits % 36) as usize]));
            bits /= 36;
        }
        id
    }

    /// A webhook ID like `pqi8oasdjahuakndw9nsad9na`: 25 of `[0-9a-z]`.
    pub fn webhook_id(&mut self) -> String {
        let mut id = String::with_capacity(25);
        while id.len() < 25 {
            let mut bits = self.next_bits();
            for _ in 0..12 {
                if id.len() == 25 {
                    break;
                }
                id.push(char::from(LOWER[(bits % 36) as usize]));
                bits /= 36;
            }
        }
        id
    }

    /// 32 lowercase hex digits, like a bot's ID or secret.
    pub fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_bits(), self.next_bits())
    }

    /// A version 4 UUID, for agents' `account_id`.
    pub fn uuid(&mut self) -> String {
        uuid_from(self.next_bits(), self.next_bits())
    }
}

/// A version 4 UUID derived from a name, for seeds that leave an ID out.
pub fn uuid_for(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    uuid_from(splitmix64(h), splitmix64(h ^ 0x5bd1_e995))
}

fn uuid_from(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether `text` is a UUID in the 8-4-4-4-12 hex form.
pub fn is_uuid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_well_formed() {
        let mut a = IdGen::default();
        let mut b = IdGen::default();
        let chat = a.chat_id();
        assert_eq!(chat, b.chat_id());
        assert_eq!(chat.len(), 10);
        assert!(chat.starts_with('P'));
        assert!(
            chat.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        let thread = a.thread_id();
        assert!(thread.starts_with('Q') && thread.len() == 10 && thread != chat);
        let hook = a.webhook_id();
        assert_eq!(hook.len(), 25);
        assert!(is_uuid(&a.uuid()));
        assert!(is_uuid(&uuid_for("smith@example.com")));
        assert!(!is_uuid("not-a-uuid"));
    }
}
