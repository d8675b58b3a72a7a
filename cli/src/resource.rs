//! `resource …`: the governed resources and their capabilities.

use crate::Verdict;
use crate::commands::Failure;
use crate::output::{Output, Row, instant};
use clap::Subcommand;
use sark_db::Db;
use sark_db::entity::resource;
use sark_db::registry::resources::{self, ResourceFilter, ResourceWithCapabilities};
use sark_db::registry::{parse_protocol, parse_sensitivity};
use sark_db::sea_orm::ActiveEnum;

/// `resource …`.
#[derive(Debug, Subcommand)]
pub enum Resource {
    /// One page of resources in id order; `--after` the last id shown for the next page.
    List {
        /// Only this protocol (mcp, http, grpc).
        #[arg(long)]
        protocol: Option<String>,
        /// Only this sensitivity (low, medium, high, critical).
        #[arg(long)]
        sensitivity: Option<String>,
        /// Only names starting with this.
        #[arg(long)]
        name_prefix: Option<String>,
        /// Continue after this id (printed after a full page).
        #[arg(long)]
        after: Option<String>,
        /// Resources per page, 1 to 1,000.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// A resource with its capabilities.
    Show { id: String },
    /// Delete a resource and its capabilities; prints what was removed.
    Delete {
        id: String,
        /// Required: deleting is not undone.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs `action`.
pub async fn run(db: &Db, action: Resource, out: &Output) -> Result<Verdict, Failure> {
    match action {
        Resource::List { protocol, sensitivity, name_prefix, after, limit } => {
            let filter = ResourceFilter {
                protocol: protocol.as_deref().map(parse_protocol).transpose()?,
                sensitivity_level: sensitivity.as_deref().map(parse_sensitivity).transpose()?,
                name_prefix,
                after,
                limit: Some(limit),
            };
            let page = resources::list(db, &filter).await?;
            if out.json {
                out.report(&page, &"")?;
            } else {
                out.rows(&page.items)?;
                if let Some(next) = &page.next {
                    println!("more: --after {next}");
                }
            }
        }
        Resource::Show { id } => {
            let found = resources::get_with_capabilities(db, &id).await?;
            out.report(&found, &described(&found))?;
        }
        Resource::Delete { id, yes } => {
            if !yes {
                return Err(
                    format!("resource delete {id}: refused without --yes (nothing was deleted)").into()
                );
            }
            let removed = resources::delete(db, &id).await?;
            out.report(&removed, &format!("deleted\n{}", described(&removed)))?;
        }
    }
    Ok(Verdict::Clean)
}

/// A resource and its capabilities, for people.
fn described(found: &ResourceWithCapabilities) -> String {
    let r = &found.resource;
    let mut text = format!(
        "{} {} ({}, sensitivity {})\nendpoint {}\ncreated {}, updated {}\n{} capabilities",
        r.id,
        r.name,
        r.protocol.to_value(),
        r.sensitivity_level.to_value(),
        r.endpoint,
        instant(r.created_at),
        instant(r.updated_at),
        found.capabilities.len()
    );
    for c in &found.capabilities {
        text.push_str(&format!("\n  {} {} (sensitivity {})", c.id, c.name, c.sensitivity_level.to_value()));
    }
    text
}

impl Row for resource::Model {
    fn header() -> Vec<&'static str> {
        vec!["id", "name", "protocol", "sensitivity", "endpoint", "updated"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.protocol.to_value(),
            self.sensitivity_level.to_value(),
            self.endpoint.clone(),
            instant(self.updated_at),
        ]
    }
}
