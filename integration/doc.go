// Package integration holds sluice's end-to-end tests. They run only with
// the build tag "integration" (make integration, make test) against real
// servers that the harness in package deploy/local installs and starts:
// MariaDB from Debian's packages and Apache Kafka in KRaft mode from Maven
// Central jars, each a throwaway process on a free loopback port.
//
// One set of servers serves a test run. The tests build the sluice binary
// and run it as a child process, so a test can kill -9 it like an operator
// would. Each test uses its own database, source name, topic prefix and
// checkpoint topic, so tests can run in any order.
//
// Every promise of DESIGN.md that concerns MySQL/MariaDB is proven here.
package integration
