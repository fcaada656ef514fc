//! Session records from JSON-lines files or stdin, positioned by line
//! number for a file (stdin has no identity to resume from).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cipherlens_inventory::Inventory;

use super::fold::{Folder, Item};
use super::{BATCH_RECORDS, IngestReport};

pub(super) fn ingest_inputs(
    inputs: &[PathBuf],
    folder: &Folder<'_>,
    inventory: &mut Inventory,
    report: &mut IngestReport,
) -> anyhow::Result<()> {
    for input in inputs {
        let (reader, source): (Box<dyn BufRead>, Option<String>) = if input == Path::new("-") {
            (Box::new(BufReader::new(std::io::stdin().lock())), None)
        } else {
            let file = std::fs::File::open(input)
                .with_context(|| format!("opening {}", input.display()))?;
            let canonical = input.canonicalize().unwrap_or_else(|_| input.clone());
            (
                Box::new(BufReader::new(file)),
                Some(format!("file:{}", canonical.display())),
            )
        };
        ingest_lines(reader, source.as_deref(), folder, inventory, report)
            .with_context(|| format!("ingesting {}", input.display()))?;
    }
    Ok(())
}

fn ingest_lines(
    reader: Box<dyn BufRead + '_>,
    source: Option<&str>,
    folder: &Folder<'_>,
    inventory: &mut Inventory,
    report: &mut IngestReport,
) -> anyhow::Result<()> {
    let mut lines = reader.lines();
    let mut round: Vec<String> = Vec::with_capacity(BATCH_RECORDS);
    let mut first_line = 1u64;
    loop {
        round.clear();
        for line in lines.by_ref().take(BATCH_RECORDS) {
            round.push(line.context("reading records")?);
        }
        if round.is_empty() {
            return Ok(());
        }
        let items: Vec<Item<'_>> = round
            .iter()
            .zip(first_line..)
            .map(|(line, number)| Item {
                sequence: Some(number),
                payload: line.as_bytes(),
            })
            .collect();
        let folded = folder.fold(inventory, source, &items)?;
        report.commit(inventory, folded)?;
        first_line += round.len() as u64;
    }
}
