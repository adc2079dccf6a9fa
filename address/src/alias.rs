//! Road aliases and old names (别名, 曾用名) that a centre keeps for its own district:
//! 人民路 renamed 长江西路 in 2009 is still written the old way for years. The table is
//! plain data handed to [`crate::Register::with_aliases`]; where it comes from (a file
//! the centre edits) is the caller's business, so this crate stays free of I/O.

/// Alias → canonical name pairs. The canonical side must be a name of the register
/// (road, compound, community, village or township); the alias is then found in text
/// exactly as that name is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    pairs: Vec<(String, String)>,
}

impl Aliases {
    /// An empty table.
    pub fn new() -> Aliases {
        Aliases::default()
    }

    /// Add `alias` as another spelling of `canonical`. Both are normalised when the
    /// register is built (full-width, traditional forms, separators), so the table may
    /// be typed as people type.
    pub fn insert(&mut self, alias: impl Into<String>, canonical: impl Into<String>) {
        self.pairs.push((alias.into(), canonical.into()));
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pairs, as inserted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(a, c)| (a.as_str(), c.as_str()))
    }
}

impl<A: Into<String>, C: Into<String>> FromIterator<(A, C)> for Aliases {
    fn from_iter<I: IntoIterator<Item = (A, C)>>(iter: I) -> Aliases {
        let mut t = Aliases::new();
        for (a, c) in iter {
            t.insert(a, c);
        }
        t
    }
}

/// Why an alias pair was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasProblem {
    /// The canonical name is not a name of the register.
    UnknownName { alias: String, canonical: String },
    /// The alias is itself a name of the register (or another alias of a different
    /// name): using it would make a real name ambiguous.
    Clash { alias: String, canonical: String },
    /// The alias is empty after normalisation, or shorter than two characters.
    TooShort { alias: String },
}
