// SIGINT/SIGTERM handling for services: block the signals in every thread
// (call before starting any), then wait for one in a dedicated place.
#pragma once

namespace gourmet {

// Blocks SIGINT, SIGTERM and SIGPIPE in the calling thread and every thread it starts later.
void BlockTerminationSignals();

// Waits for SIGINT or SIGTERM; returns the signal number.
int WaitForTerminationSignal();

}  // namespace gourmet
