//! `--name value` and `--flag` command-line options.

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed options.
#[derive(Debug, Default, Clone)]
pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    /// Parses `--name value`, `--name=value` and bare `--flag` (value `"true"`).
    pub fn parse(argv: &[String]) -> Args {
        let mut values = HashMap::new();
        let mut i = 0;
        while i < argv.len() {
            if let Some(name) = argv[i].strip_prefix("--") {
                if let Some((name, value)) = name.split_once('=') {
                    values.insert(name.to_owned(), value.to_owned());
                } else if argv.get(i + 1).is_some_and(|next| !next.starts_with("--")) {
                    values.insert(name.to_owned(), argv[i + 1].clone());
                    i += 1;
                } else {
                    values.insert(name.to_owned(), "true".to_owned());
                }
            }
            i += 1;
        }
        Args { values }
    }

    /// Whether `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| v != "false")
    }

    /// The raw value of `--name`.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `--name` parsed, or an error naming it.
    pub fn get<T: FromStr>(&self, name: &str) -> Result<T, String> {
        let raw = self.str(name).ok_or_else(|| format!("missing --{name}"))?;
        raw.parse().map_err(|_| format!("bad --{name} {raw:?}"))
    }

    /// `--name` parsed, or `default`.
    pub fn get_or<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.str(name) {
            None => Ok(default),
            Some(_) => self.get(name),
        }
    }
}
