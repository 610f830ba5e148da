// libbpf's messages are kept (bounded) instead of printed, so a failure can
// show the verifier's last words in its error and a success stays quiet.
#pragma once

#include <string>

void LibbpfLogInstall();
void LibbpfLogClear();
std::string LibbpfLogTail();
