// jemalloc's built-in configuration for the ferry binary (linked only when
// the binary uses jemalloc; MALLOC_CONF in the environment still overrides
// any of it).
//
// background_thread: jemalloc returns freed pages to the system as it is
// called, on the thread that calls it; a broker that drained a large
// backlog and then goes quiet makes no such calls, and its RSS stayed at
// the backlog's peak (363 MB idle after a 200,000 x 1 KB queue drained).
// A background thread decays unused pages on its own clock, so the memory
// goes back within the decay time (dirty_decay_ms, 10 s by default).
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface
const char* malloc_conf = "background_thread:true";
}
