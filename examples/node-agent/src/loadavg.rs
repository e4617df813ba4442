//! Reading `<proc>/loadavg` (through the hostPath mount, the node's, not the container's view).

use std::path::Path;

/// The 1, 5 and 15 minute load averages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadAvg {
    /// 1-minute average.
    pub one: f64,
    /// 5-minute average.
    pub five: f64,
    /// 15-minute average.
    pub fifteen: f64,
}

impl LoadAvg {
    /// Parses the contents of `/proc/loadavg` (`0.52 0.58 0.59 1/467 12345`).
    pub fn parse(text: &str) -> Result<LoadAvg, String> {
        let mut fields = text.split_whitespace();
        let mut next = |what: &str| -> Result<f64, String> {
            let field = fields
                .next()
                .ok_or_else(|| format!("loadavg: the {what} average is missing"))?;
            let value: f64 = field
                .parse()
                .map_err(|_| format!("loadavg: {field:?} is not a number"))?;
            if value.is_finite() && value >= 0.0 {
                Ok(value)
            } else {
                Err(format!("loadavg: {field:?} is out of range"))
            }
        };
        Ok(LoadAvg {
            one: next("1-minute")?,
            five: next("5-minute")?,
            fifteen: next("15-minute")?,
        })
    }

    /// Reads `<proc_dir>/loadavg`.
    pub fn read(proc_dir: &Path) -> Result<LoadAvg, String> {
        let path = proc_dir.join("loadavg");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        LoadAvg::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_loadavg() {
        let l = LoadAvg::parse("0.52 0.58 1.59 1/467 12345\n").unwrap();
        assert_eq!((l.one, l.five, l.fifteen), (0.52, 0.58, 1.59));
    }

    #[test]
    fn rejects_garbage() {
        assert!(LoadAvg::parse("").is_err());
        assert!(LoadAvg::parse("0.1 0.2").is_err());
        assert!(LoadAvg::parse("a b c").is_err());
        assert!(LoadAvg::parse("-1 0 0").is_err());
        assert!(LoadAvg::parse("NaN 0 0").is_err());
    }

    #[test]
    fn reads_a_proc_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("loadavg"), "3.00 2.00 1.00 2/100 7\n").unwrap();
        assert_eq!(LoadAvg::read(dir.path()).unwrap().fifteen, 1.0);
        assert!(LoadAvg::read(&dir.path().join("missing")).is_err());
        // The machine's own /proc parses too.
        LoadAvg::read(Path::new("/proc")).unwrap();
    }
}
