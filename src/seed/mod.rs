//! Declarative seeding (`serve --seed FILE`, `localplane seed FILE`, `POST /_localplane/seed`): a
//! YAML or JSON file of AWS request shapes — namespaces, services, instances, custom plugins, worker
//! configurations, connectors — that refer to each other by name, created through the services'
//! own dispatch, idempotently.

mod apply;
mod file;

pub use apply::{apply, Outcome};
pub use file::{parse, Entry, Kind, SeedError, SeedFile};

/// Parses and applies the text of a seed file.
pub async fn seed(app: &crate::app::App, text: &str) -> Result<Vec<Outcome>, SeedError> {
    apply(app, &parse(text)?).await
}
