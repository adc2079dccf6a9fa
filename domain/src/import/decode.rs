//! Text encoding of import files: UTF-8 or GBK/GB18030, detected from the first 64 KiB.
//!
//! Detection counts lines: a file whose non-ASCII lines are mostly valid UTF-8 is
//! UTF-8 (a few broken lines are then reported as bad rows); otherwise it is GB18030, a
//! superset of GBK. A UTF-8 BOM settles it at once.

use std::io::{Chain, Cursor, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Gb18030,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gb18030 => "gb18030",
        }
    }

    /// Decode one field; `None` when the bytes are not valid in this encoding.
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_string),
            Encoding::Gb18030 => {
                let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
                (!had_errors).then(|| text.into_owned())
            }
        }
    }
}

/// Decide the encoding from a sample of the file's start.
pub fn detect(sample: &[u8]) -> Encoding {
    if sample.starts_with(b"\xEF\xBB\xBF") {
        return Encoding::Utf8;
    }
    // Ignore the last (possibly cut) line of the sample.
    let complete = match sample.iter().rposition(|&b| b == b'\n') {
        Some(i) if sample.len() >= 64 * 1024 => &sample[..i],
        _ => sample,
    };
    let (mut utf8, mut other) = (0usize, 0usize);
    for line in complete.split(|&b| b == b'\n') {
        if line.is_ascii() {
            continue;
        }
        if std::str::from_utf8(line).is_ok() {
            utf8 += 1;
        } else {
            other += 1;
        }
    }
    if other > utf8 {
        Encoding::Gb18030
    } else {
        Encoding::Utf8
    }
}

/// The whole file again: the sample already read, then the rest.
pub type Rewound<R> = Chain<Cursor<Vec<u8>>, R>;

/// Read the first 64 KiB, detect the encoding, and give back a reader over the whole
/// file (the sample first, then the rest).
pub fn sniff<R: Read>(mut file: R) -> std::io::Result<(Encoding, Rewound<R>)> {
    let mut sample = Vec::with_capacity(64 * 1024);
    (&mut file).take(64 * 1024).read_to_end(&mut sample)?;
    let enc = detect(&sample);
    Ok((enc, Cursor::new(sample).chain(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_encoding() {
        let text = "id,address\n1,四川省德阳市旌阳区长江西路18号\n2,孝泉镇红光村3组18号\n";
        assert_eq!(detect(text.as_bytes()), Encoding::Utf8);
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        assert_eq!(detect(&gbk), Encoding::Gb18030);
        assert_eq!(Encoding::Gb18030.decode(&gbk).as_deref(), Some(text));
        // One broken line in an otherwise UTF-8 file stays UTF-8 (and that row fails).
        let mut mixed = text.as_bytes().to_vec();
        mixed.extend_from_slice(b"3,\xff\xfe\xfd\n");
        mixed.extend_from_slice("4,旌阳街道\n".as_bytes());
        assert_eq!(detect(&mixed), Encoding::Utf8);
        assert_eq!(Encoding::Utf8.decode(b"\xff\xfe"), None);
    }
}
