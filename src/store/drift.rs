//! Schema drift: which fields of event lines did not fit (unknown names, values of another
//! type), how often and where first, with a bound on how many distinct fields are named.
//!
//! Lines whose field names never repeat (a field per request id, per user, per file) made drift
//! as large as the data: a linear search per field name made ingest quadratic (2M skill lines,
//! each with a field of its own: 29 s for 238 MB, 80 % of it in that search), and every name was
//! kept in the commit log, its checkpoints and the catalog. Now each stream names at most
//! [`MAX_KEYS`] distinct keys, the first seen in file and commit order; every later one is
//! counted under [`OTHER`]. The values themselves are never dropped: they stay in `extra`.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// A schema-drift key: (field, `unknown_field` | `type_mismatch`, JSON type seen).
pub type DriftKey = (String, &'static str, &'static str);

/// Distinct keys named per stream (in one decoded block, one commit, and the catalog).
pub const MAX_KEYS: usize = 1000;

/// The field (and JSON type) under which drift past [`MAX_KEYS`] keys is counted.
pub const OTHER: &str = "*";

/// The key under which drift of `kind` past [`MAX_KEYS`] keys is counted.
pub fn other(kind: &'static str) -> DriftKey {
    (OTHER.to_string(), kind, OTHER)
}

/// Adds `v` for `key` to `map` (one stream's drift): under `key` when `map` has it or has room
/// for another key, else under [`other`] of its kind. `combine` adds a value to one there.
pub fn add<V>(
    map: &mut BTreeMap<DriftKey, V>,
    key: DriftKey,
    v: V,
    combine: impl FnOnce(&mut V, V),
) {
    let key = if map.len() < MAX_KEYS || map.contains_key(&key) {
        key
    } else {
        other(key.1)
    };
    match map.entry(key) {
        Entry::Occupied(mut e) => combine(e.get_mut(), v),
        Entry::Vacant(e) => {
            e.insert(v);
        }
    }
}

/// Adds drift counted as (first line, occurrences) of lines that follow `map`'s (`from`, of a
/// later chunk or block) to `map`, `from`'s keys in the order they were first seen, so that the
/// keys named are the first in file order however the lines were split.
pub fn extend(map: &mut BTreeMap<DriftKey, (u64, u64)>, from: BTreeMap<DriftKey, (u64, u64)>) {
    let mut from: Vec<_> = from.into_iter().collect();
    from.sort_by_key(|(_, (line, _))| *line);
    for (key, v) in from {
        add(map, key, v, |e, (line, n)| {
            e.0 = e.0.min(line);
            e.1 += n;
        });
    }
}

/// The drift of one chunk's lines (bounded by them), looked up without allocating a key.
///
/// Lines of a log mostly repeat one another's odd fields in the same order, so the key after
/// the one last counted is tried first: one compare where a search of the fields took several
/// (lines with 60 unknown fields each: `note` and its compares were 12 % of ingest).
#[derive(Default)]
pub struct Tally {
    /// (field, kind, JSON type, first line, occurrences), in the order first counted.
    entries: Vec<(String, &'static str, &'static str, u64, u64)>,
    /// The entries of each field.
    by_field: BTreeMap<String, Vec<usize>>,
    /// The entry after the one last counted.
    next: usize,
}

impl Tally {
    /// Counts `field` (of `kind`, JSON type `ty`) on line `line_no`.
    pub fn note(&mut self, field: &str, kind: &'static str, ty: &'static str, line_no: u64) {
        let same = |e: &(String, &str, &str, u64, u64)| e.0 == field && e.1 == kind && e.2 == ty;
        let at = match self.entries.get(self.next) {
            Some(e) if same(e) => Some(self.next),
            _ => (self.by_field.get(field))
                .and_then(|ids| ids.iter().copied().find(|&i| same(&self.entries[i]))),
        };
        let at = at.unwrap_or_else(|| {
            let i = self.entries.len();
            self.entries.push((field.to_string(), kind, ty, line_no, 0));
            self.by_field.entry(field.to_string()).or_default().push(i);
            i
        });
        let e = &mut self.entries[at];
        // Lines of a merged log are decoded grouped by day: the first line is the smallest.
        e.3 = e.3.min(line_no);
        e.4 += 1;
        self.next = at + 1;
    }

    /// The tally as (first line, occurrences) per key, every key named: the chunk's lines bound
    /// them, and [`extend`], which joins chunks, keeps a named key counting past the limit only
    /// when no chunk has dropped its name.
    pub fn finish(self) -> BTreeMap<DriftKey, (u64, u64)> {
        (self.entries.into_iter())
            .map(|(field, kind, ty, line, n)| ((field, kind, ty), (line, n)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The drift of `fields` (name, line) as one chunk's, joined to none before it.
    fn tally(fields: impl IntoIterator<Item = (String, u64)>) -> BTreeMap<DriftKey, (u64, u64)> {
        let mut t = Tally::default();
        for (f, line) in fields {
            t.note(&f, "unknown_field", "number", line);
        }
        let mut out = BTreeMap::new();
        extend(&mut out, t.finish());
        out
    }

    #[test]
    fn few_fields_are_counted_each_with_its_first_line() {
        let lines = (1..=300u64).flat_map(|l| [("a".to_string(), l), (format!("k{}", l % 3), l)]);
        let got = tally(lines);
        assert_eq!(got.len(), 4);
        assert_eq!(got[&("a".into(), "unknown_field", "number")], (1, 300));
        assert_eq!(got[&("k0".into(), "unknown_field", "number")], (3, 100));
        assert_eq!(got[&("k1".into(), "unknown_field", "number")], (1, 100));
    }

    /// A field per line: the first `MAX_KEYS` in line order are named, whatever their names
    /// sort as, and every occurrence is counted once.
    #[test]
    fn past_the_limit_fields_are_counted_together_and_none_is_lost() {
        let n = 3 * MAX_KEYS as u64;
        // Names that sort against line order.
        let got = tally((1..=n).map(|l| (format!("f{}", n - l), l)));
        assert_eq!(got.len(), MAX_KEYS + 1);
        assert_eq!(got.values().map(|v| v.1).sum::<u64>(), n);
        let rest = got[&other("unknown_field")];
        assert_eq!(rest, (MAX_KEYS as u64 + 1, n - MAX_KEYS as u64));
        assert!(got.contains_key(&(format!("f{}", n - 1), "unknown_field", "number")));
        assert!(!got.contains_key(&("f0".into(), "unknown_field", "number")));
    }

    /// Split into chunks and joined in order, drift names the same keys with the same counts as
    /// one tally of all lines: a named key keeps counting after the limit is reached.
    #[test]
    fn chunks_joined_in_order_count_as_one() {
        // 1,700 names, more than the limit, and more in one chunk than the limit too.
        let lines: Vec<(String, u64)> = (1..=9000u64)
            .map(|l| (format!("f{}", (l * 7919) % 1700), l))
            .collect();
        let whole = tally(lines.clone());
        let mut joined = BTreeMap::new();
        for size in [777, 1500] {
            for part in lines.chunks(size) {
                let mut t = Tally::default();
                for (f, line) in part {
                    t.note(f, "unknown_field", "number", *line);
                }
                extend(&mut joined, t.finish());
            }
            assert_eq!(joined, whole, "chunks of {size} lines");
            joined.clear();
        }
        assert_eq!(whole.len(), MAX_KEYS + 1);
        assert_eq!(whole.values().map(|v| v.1).sum::<u64>(), 9000);
    }
}
