//! Placeholder until the storage layer lands.
#[derive(Clone)]
pub struct Database;
impl Database {
    pub async fn ping(&self) -> Result<(), std::io::Error> { Ok(()) }
}
