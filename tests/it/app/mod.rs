//! Full-app tests through a real MCP client (rmcp) over streamable HTTP and stdio; `postgres` runs a selection
//! of them with `COORDINATOR_DATABASE_URL=postgres://…` on a fresh database.

mod bad_input;
mod inbox;
mod lifecycle;
mod postgres;
mod scoring;
mod transport;
