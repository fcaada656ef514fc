//! JSON of the record parts many records share, written once.
//!
//! A process's attribution is the same `Arc` in every session and flow
//! record of that process (both endpoints, four times per handshake when
//! both are local), and a certificate's summary is the same `Arc` in every
//! session that showed it. Their JSON is kept beside them, keyed by the
//! `Arc`'s address; the entry holds a clone of the `Arc`, so the address
//! cannot be reused by another value while the entry lives. Bounded: when
//! full, the map starts over.

use std::collections::HashMap;
use std::sync::Arc;

/// A value, kept alive while its JSON is kept, and that JSON.
type Entry<T> = (Arc<T>, Box<[u8]>);

/// See the module documentation.
pub struct Fragments<T> {
    entries: HashMap<usize, Entry<T>, foldhash::fast::RandomState>,
    capacity: usize,
}

impl<T> Fragments<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::default(),
            capacity,
        }
    }

    /// The JSON of `value`, from the map or written now by `write`.
    pub fn get_or_write<E>(
        &mut self,
        value: &Arc<T>,
        write: impl FnOnce(&T, &mut Vec<u8>) -> Result<(), E>,
    ) -> Result<&[u8], E> {
        let address = Arc::as_ptr(value) as usize;
        if !self.entries.contains_key(&address) {
            let mut json = Vec::new();
            write(value, &mut json)?;
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
            self.entries
                .insert(address, (Arc::clone(value), json.into_boxed_slice()));
        }
        Ok(&self.entries[&address].1)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_text(value: &String, out: &mut Vec<u8>) -> Result<(), ()> {
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }

    #[test]
    fn a_value_is_written_once_and_equal_values_in_other_arcs_apart() {
        let mut fragments = Fragments::new(8);
        let one = Arc::new("one".to_string());
        let twin = Arc::new("one".to_string());
        assert_eq!(fragments.get_or_write(&one, write_text), Ok(&b"one"[..]));
        let mut written = false;
        let again = fragments.get_or_write(&Arc::clone(&one), |_, _| {
            written = true;
            Ok::<(), ()>(())
        });
        assert_eq!(again, Ok(&b"one"[..]));
        assert!(!written, "written again");
        assert_eq!(fragments.get_or_write(&twin, write_text), Ok(&b"one"[..]));
        assert_eq!(fragments.len(), 2);
    }

    #[test]
    fn the_map_never_holds_more_than_its_capacity_and_errors_are_not_kept() {
        let mut fragments = Fragments::new(4);
        let values: Vec<_> = (0..10).map(|n| Arc::new(n.to_string())).collect();
        for value in &values {
            fragments.get_or_write(value, write_text).expect("written");
            assert!(fragments.len() <= 4);
        }
        let failing = Arc::new("x".to_string());
        assert_eq!(
            fragments.get_or_write(&failing, |_, _| Err("no")),
            Err("no")
        );
        assert_eq!(fragments.get_or_write(&failing, write_text), Ok(&b"x"[..]));
    }
}
