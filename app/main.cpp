// kollektiv: factory simulation and collective robot learning, one SPMD executable.
#include "app/driver.hpp"

int main(int argc, char** argv) { return kollektiv::app::run(argc, argv); }
