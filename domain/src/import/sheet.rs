//! Excel workbooks (`.xlsx` streamed cell by cell, `.xls` read whole — the old format
//! holds at most 65 536 rows) through `calamine`. The first worksheet is read; its first
//! non-empty row is the header. Rows are numbered as Excel shows them.
//!
//! Reading runs on its own thread and hands rows over in batches, so unzipping and XML
//! parsing overlap with validation and the store's inserts.

use super::source::{Cell, Item, Records, SourceRow, excel_date};
use calamine::{Data, DataRef, Reader};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Rows per batch handed from the reading thread.
const BATCH: usize = 2048;

enum Msg {
    Header(Vec<String>),
    Items(Vec<Item>),
}

fn cell_of(v: &DataRef<'_>) -> Cell {
    match v {
        DataRef::Int(i) => Cell::Int(*i),
        DataRef::Float(f) => Cell::Real(*f),
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_string()),
        DataRef::Bool(b) => Cell::Int(*b as i64),
        DataRef::DateTime(d) => excel_date(d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(e) => Cell::Bad(format!("the cell holds the spreadsheet error {e}")),
        DataRef::Empty => Cell::Empty,
    }
}

fn cell_of_data(v: &Data) -> Cell {
    match v {
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Real(*f),
        Data::String(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Int(*b as i64),
        Data::DateTime(d) => excel_date(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Bad(format!("the cell holds the spreadsheet error {e}")),
        Data::Empty => Cell::Empty,
    }
}

/// Collects cells into rows and rows into batches.
struct Rows {
    tx: SyncSender<Msg>,
    header: Option<usize>,
    batch: Vec<Item>,
    row: Option<(u32, Vec<Cell>)>,
}

impl Rows {
    /// Hand over a finished row; false when the receiver is gone.
    fn finish_row(&mut self) -> bool {
        let Some((r, cells)) = self.row.take() else {
            return true;
        };
        if cells.iter().all(|c| *c == Cell::Empty) {
            return true;
        }
        match self.header {
            None => {
                let names: Vec<String> = cells
                    .iter()
                    .map(|c| c.text().map(|t| t.trim().to_string()).unwrap_or_default())
                    .collect();
                self.header = Some(names.len());
                self.tx.send(Msg::Header(names)).is_ok()
            }
            Some(_) => {
                self.batch.push(Item::Row(SourceRow {
                    pos: r as u64 + 1,
                    cells,
                    geometry: None,
                }));
                if self.batch.len() >= BATCH {
                    let b = std::mem::take(&mut self.batch);
                    return self.tx.send(Msg::Items(b)).is_ok();
                }
                true
            }
        }
    }

    /// Add a cell at (row, col), in stream order; false when the receiver is gone.
    fn cell(&mut self, r: u32, c: u32, v: Cell) -> bool {
        if self.row.as_ref().is_some_and(|(cur, _)| *cur != r) && !self.finish_row() {
            return false;
        }
        let (_, cells) = self.row.get_or_insert_with(|| (r, Vec::new()));
        let c = c as usize;
        if cells.len() <= c {
            cells.resize(c + 1, Cell::Empty);
        }
        cells[c] = v;
        true
    }

    fn end(mut self, broken: Option<String>) {
        if broken.is_none() {
            self.finish_row();
        }
        if let Some(why) = broken {
            if self.header.is_none() {
                // Nothing read yet: the whole file is unreadable.
                let _ = self.tx.send(Msg::Items(vec![Item::Broken(why)]));
                return;
            }
            self.batch.push(Item::Broken(why));
        } else if self.header.is_none() {
            let _ = self.tx.send(Msg::Items(vec![Item::Broken(
                "the first worksheet is empty (no header row)".into(),
            )]));
            return;
        }
        let _ = self.tx.send(Msg::Items(self.batch));
    }
}

fn read_xlsx(path: &Path, mut rows: Rows) {
    let mut book: calamine::Xlsx<_> = match calamine::open_workbook(path) {
        Ok(b) => b,
        Err(e) => return rows.end(Some(format!("not a readable .xlsx workbook: {e}"))),
    };
    let Some(first) = book.sheet_names().first().cloned() else {
        return rows.end(Some("the workbook has no worksheet".into()));
    };
    let mut reader = match book.worksheet_cells_reader(&first) {
        Ok(r) => r,
        Err(e) => return rows.end(Some(format!("worksheet {first}: {e}"))),
    };
    loop {
        match reader.next_cell() {
            Ok(Some(cell)) => {
                let (r, c) = cell.get_position();
                if !rows.cell(r, c, cell_of(cell.get_value())) {
                    return;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let at = rows.row.as_ref().map_or(0, |(r, _)| r + 1);
                drop(reader);
                return rows.end(Some(format!(
                    "worksheet {first} cannot be read after row {at}: {e}"
                )));
            }
        }
    }
    drop(reader);
    rows.end(None);
}

fn read_xls(path: &Path, mut rows: Rows) {
    let mut book: calamine::Xls<_> = match calamine::open_workbook(path) {
        Ok(b) => b,
        Err(e) => return rows.end(Some(format!("not a readable .xls workbook: {e}"))),
    };
    let Some(first) = book.sheet_names().first().cloned() else {
        return rows.end(Some("the workbook has no worksheet".into()));
    };
    let range = match book.worksheet_range(&first) {
        Ok(r) => r,
        Err(e) => return rows.end(Some(format!("worksheet {first}: {e}"))),
    };
    let (r0, c0) = range.start().unwrap_or((0, 0));
    for (i, row) in range.rows().enumerate() {
        for (j, v) in row.iter().enumerate() {
            if !rows.cell(r0 + i as u32, c0 + j as u32, cell_of_data(v)) {
                return;
            }
        }
    }
    rows.end(None);
}

/// The rows of the first worksheet of an `.xlsx` (`xls` false) or `.xls` workbook.
pub fn records(path: &Path, xls: bool) -> Result<Records, String> {
    let (tx, rx): (SyncSender<Msg>, Receiver<Msg>) = sync_channel(8);
    let path = path.to_path_buf();
    let rows = Rows {
        tx,
        header: None,
        batch: Vec::with_capacity(BATCH),
        row: None,
    };
    std::thread::Builder::new()
        .name("import-sheet".into())
        .spawn(move || {
            if xls {
                read_xls(&path, rows)
            } else {
                read_xlsx(&path, rows)
            }
        })
        .map_err(|e| format!("cannot start the reading thread: {e}"))?;
    let header = match rx.recv() {
        Ok(Msg::Header(h)) => h,
        Ok(Msg::Items(items)) => {
            return Err(match items.into_iter().next() {
                Some(Item::Broken(why)) => why,
                _ => "the workbook cannot be read".into(),
            });
        }
        Err(_) => return Err("the workbook cannot be read".into()),
    };
    let items = rx.into_iter().flat_map(|m| match m {
        Msg::Items(v) => v,
        Msg::Header(_) => Vec::new(),
    });
    Ok(Records {
        header,
        encoding: "utf-8",
        crs: String::new(),
        items: Box::new(items),
    })
}
