//! posdiag reference plugin (iso8583): placeholder.
