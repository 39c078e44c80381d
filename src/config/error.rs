use std::fmt;
use std::path::{Path, PathBuf};

/// A user's mistake in the config, located precisely enough to fix without guessing.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// Dotted path of the offending key, e.g. `sources.jenkins[0].url`.
    pub key: Option<String>,
    pub message: String,
    /// The offending source line, for context.
    pub snippet: Option<String>,
}

impl ConfigError {
    pub fn new(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            key: None,
            message: message.into(),
            snippet: None,
        }
    }

    /// Locate the error at a byte offset of the source text.
    pub fn at(mut self, text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = text[line_start..offset].chars().count() + 1;
        self.line = Some(line as u32);
        self.column = Some(column as u32);
        self.snippet = text.lines().nth(line - 1).map(|l| l.to_string());
        self
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        if !key.is_empty() && key != "." {
            self.key = Some(key);
        }
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let (Some(line), Some(snippet)) = (self.line, &self.snippet) {
            write!(f, "\n  {line:>4} | {snippet}")?;
            if let Some(col) = self.column {
                write!(f, "\n       | {}^", " ".repeat(col.saturating_sub(1) as usize))?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
