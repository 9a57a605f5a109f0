//! posdiag reference plugin (zvt): placeholder.
