//! Combining two batches into one, so records can be read and folded on
//! several threads and written in one transaction: every row adds up the
//! way the same records in one batch would have.

use super::{Batch, Map, Seen, SourcePosition, ValueRows};
use crate::error::Error;

impl Seen {
    fn absorb(&mut self, other: Seen) {
        self.sessions += other.sessions;
        if other.first < self.first {
            self.first = other.first;
        }
        if other.last > self.last {
            self.last = other.last;
        }
    }
}

fn absorb_values<K: std::hash::Hash + Eq>(mine: &mut Map<K, ValueRows>, theirs: Map<K, ValueRows>) {
    for (key, values) in theirs {
        let rows = mine.entry(key).or_default();
        for (value, row) in values {
            match rows.get_mut(&value) {
                Some(existing) => {
                    existing.seen.absorb(row.seen);
                    if row.code.is_some() {
                        existing.code = row.code;
                    }
                }
                None => {
                    rows.insert(value, row);
                }
            }
        }
    }
}

impl Batch {
    /// Adds another batch's records to this one. Both must have started
    /// from the same stored positions (made by the same
    /// [`crate::Inventory::batch`] state) and cover different records: give
    /// each reader a contiguous range of a stream.
    pub fn absorb(&mut self, other: Batch) -> Result<(), Error> {
        for (source, theirs) in other.positions {
            let mine = self
                .positions
                .entry(source.clone())
                .or_insert(SourcePosition {
                    base: theirs.base,
                    latest: None,
                });
            if mine.base != theirs.base {
                return Err(Error::BatchesDisagree {
                    source_name: source,
                });
            }
            mine.latest = mine.latest.max(theirs.latest);
        }
        self.applied += other.applied;
        self.already_applied += other.already_applied;

        for (id, row) in other.endpoints {
            match self.endpoints.get_mut(&id) {
                Some(existing) => {
                    existing.seen.absorb(row.seen);
                    super::rows::add_counts(&mut existing.counts, &row.counts);
                    if let Some((workload, seen)) = row.server_workload
                        && existing
                            .server_workload
                            .as_ref()
                            .is_none_or(|(_, mine)| seen >= *mine)
                    {
                        existing.server_workload = Some((workload, seen));
                    }
                }
                None => {
                    self.endpoints.insert(id, row);
                }
            }
        }
        for (id, row) in other.workloads {
            match self.workloads.get_mut(&id) {
                Some(existing) => {
                    let later = row.last >= existing.last;
                    if row.first < existing.first {
                        existing.first = row.first;
                    }
                    if later {
                        existing.last = row.last;
                    }
                    if !row.executable_path.is_empty()
                        && (later || existing.executable_path.is_empty())
                    {
                        existing.executable_path = row.executable_path;
                    }
                    if !row.container_runtime.is_empty()
                        && (later || existing.container_runtime.is_empty())
                    {
                        existing.container_runtime = row.container_runtime;
                    }
                    existing.client_sessions += row.client_sessions;
                    existing.server_sessions += row.server_sessions;
                    existing.pq_offered += row.pq_offered;
                    existing.pq += row.pq;
                }
                None => {
                    self.workloads.insert(id, row);
                }
            }
        }
        for (id, row) in other.connections {
            match self.connections.get_mut(&id) {
                Some(existing) => {
                    existing.seen.absorb(row.seen);
                    super::rows::add_counts(&mut existing.counts, &row.counts);
                }
                None => {
                    self.connections.insert(id, row);
                }
            }
        }
        for (key, versions) in other.usage {
            let mine = self.usage.entry(key).or_default();
            absorb_values(mine, versions);
        }
        absorb_values(&mut self.offers, other.offers);
        for (fingerprint, row) in other.certificates {
            self.certificates.entry(fingerprint).or_insert(row);
        }
        for (key, chain) in other.chains {
            let rows = self.chains.entry(key).or_default();
            for (fingerprint, row) in chain {
                match rows.get_mut(&fingerprint) {
                    Some(existing) => {
                        existing.position = existing.position.min(row.position);
                        existing.seen.absorb(row.seen);
                    }
                    None => {
                        rows.insert(fingerprint, row);
                    }
                }
            }
        }
        for (connection, findings) in other.findings {
            let rows = self.findings.entry(connection).or_default();
            for finding in findings {
                match rows
                    .iter_mut()
                    .find(|row| row.rule == finding.rule && row.severity == finding.severity)
                {
                    Some(existing) => {
                        if finding.seen.last >= existing.seen.last {
                            existing.message = finding.message;
                            existing.evidence = finding.evidence;
                        }
                        existing.seen.absorb(finding.seen);
                    }
                    None => rows.push(finding),
                }
            }
        }
        Ok(())
    }
}
