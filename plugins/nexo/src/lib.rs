//! posdiag reference plugin (nexo): placeholder.
