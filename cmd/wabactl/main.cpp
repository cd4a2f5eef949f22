#include "wabactl/cli.hpp"

#include <iostream>

int main(int argc, char** argv) {
  return wabactl::cli::run(argc, argv, std::cout, std::cerr);
}
