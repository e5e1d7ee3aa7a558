//! Full-app tests through a real MCP client (rmcp) over streamable HTTP and stdio.

mod bad_input;
mod inbox;
mod lifecycle;
mod scoring;
mod transport;
