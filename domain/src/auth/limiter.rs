//! Failed-login throttling, in memory (per process: a restart or another replica starts
//! from zero; good enough against online guessing, documented in ARCHITECTURE.md).
//!
//! Each key (`user:NAME` or `addr:IP`) counts failures in a window; at the limit the key
//! is locked for the lockout period and every attempt gets 429 with Retry-After, even
//! with the right password.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_failures: u32,
    pub window_secs: i64,
    pub lockout_secs: i64,
}

/// Per account: 5 failures in 15 minutes lock it for 15 minutes.
pub const PER_ACCOUNT: Policy = Policy {
    max_failures: 5,
    window_secs: 900,
    lockout_secs: 900,
};
/// Per client address: 20 failures (offices share addresses behind NAT).
pub const PER_ADDRESS: Policy = Policy {
    max_failures: 20,
    window_secs: 900,
    lockout_secs: 900,
};

/// Per account: ID-number lookups (`/api/v1/residents/lookup`): 20 in 10 minutes, then
/// 10 minutes' pause (a lookup confirms a guessed ID number; guesses must stay few).
pub const LOOKUPS: Policy = Policy {
    max_failures: 20,
    window_secs: 600,
    lockout_secs: 600,
};

/// Keys tracked at most (memory stays bounded whatever names a flood makes up).
pub const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    first_at: i64,
    locked_until: i64,
}

#[derive(Debug, Default)]
pub struct Limiter {
    keys: HashMap<String, Failures>,
}

impl Limiter {
    /// Seconds until `key` may try again, if it is locked at `now`.
    pub fn locked(&self, key: &str, now: i64) -> Option<u64> {
        self.keys
            .get(key)
            .filter(|f| f.locked_until > now)
            .map(|f| (f.locked_until - now) as u64)
    }

    /// Count a failure; returns the lock time if this failure locked the key.
    pub fn fail(&mut self, key: &str, policy: Policy, now: i64) -> Option<u64> {
        if self.keys.len() >= MAX_KEYS && !self.keys.contains_key(key) {
            self.keys
                .retain(|_, f| f.locked_until > now || now - f.first_at < policy.window_secs);
            if self.keys.len() >= MAX_KEYS {
                // Still full of live keys: this one is not tracked (bounded memory; the
                // callers also count the client address, which is tracked first).
                return None;
            }
        }
        let f = self.keys.entry(key.to_string()).or_default();
        if now - f.first_at >= policy.window_secs {
            *f = Failures {
                count: 0,
                first_at: now,
                locked_until: f.locked_until,
            };
        }
        f.count += 1;
        if f.count >= policy.max_failures {
            f.locked_until = now + policy.lockout_secs;
            f.count = 0;
            f.first_at = now;
            return Some(policy.lockout_secs as u64);
        }
        None
    }

    pub fn succeed(&mut self, key: &str) {
        self.keys.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_unlocks_after_the_lockout() {
        let mut l = Limiter::default();
        for i in 0..4 {
            assert_eq!(l.fail("user:a", PER_ACCOUNT, 100 + i), None);
            assert_eq!(l.locked("user:a", 100 + i), None);
        }
        assert_eq!(l.fail("user:a", PER_ACCOUNT, 104), Some(900));
        assert_eq!(l.locked("user:a", 105), Some(899));
        assert_eq!(l.locked("user:a", 104 + 900), None);
        assert_eq!(l.locked("user:b", 105), None);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut l = Limiter::default();
        for i in 0..MAX_KEYS + 50 {
            l.fail(&format!("user:{i}"), PER_ACCOUNT, 100);
        }
        assert_eq!(l.keys.len(), MAX_KEYS);
        // Expired keys make room again.
        l.fail("user:new", PER_ACCOUNT, 100 + PER_ACCOUNT.window_secs + 1);
        assert_eq!(l.keys.len(), 1);
    }
}
