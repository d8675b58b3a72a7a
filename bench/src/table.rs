//! The result table.

/// One row: a workload's figure for sark-db and for its baselines.
pub struct Row {
    /// What ran.
    pub workload: String,
    /// The unit of every figure of the row.
    pub unit: &'static str,
    /// sark-db's figure.
    pub sark: f64,
    /// The driver-level baseline (sqlx running the library's statements, or raw `COPY`).
    pub baseline: Option<(&'static str, f64)>,
    /// `pgbench` running the library's statement.
    pub pgbench: Option<f64>,
}

impl Row {
    /// A row without baselines yet.
    pub fn new(workload: impl Into<String>, unit: &'static str, sark: f64) -> Row {
        Row { workload: workload.into(), unit, sark, baseline: None, pgbench: None }
    }

    /// With the driver-level baseline `name`.
    pub fn against(self, name: &'static str, value: f64) -> Row {
        Row { baseline: Some((name, value)), ..self }
    }

    /// With the pgbench baseline.
    pub fn pgbench(self, value: f64) -> Row {
        Row { pgbench: Some(value), ..self }
    }
}

/// Prints `rows` as a Markdown table.
pub fn print(rows: &[Row]) {
    println!("| workload | unit | sark-db | baseline | sark-db / baseline | pgbench | sark-db / pgbench |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let prec = if r.unit == "ms" { 3 } else { 0 };
        let (baseline, ratio) = match r.baseline {
            Some((name, b)) => (format!("{b:.prec$} ({name})"), format!("{:.2}", r.sark / b)),
            None => (String::new(), String::new()),
        };
        let (pg, pg_ratio) = match r.pgbench {
            Some(p) => (format!("{p:.prec$}"), format!("{:.2}", r.sark / p)),
            None => (String::new(), String::new()),
        };
        println!(
            "| {} | {} | {:.prec$} | {baseline} | {ratio} | {pg} | {pg_ratio} |",
            r.workload, r.unit, r.sark
        );
    }
}
