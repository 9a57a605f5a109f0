/* A valid library that does not export posdiag_plugin_entry_v1. */
int not_a_posdiag_plugin(void) { return 42; }
