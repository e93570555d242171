// Package e2e holds invsync's end-to-end tests: servers started through
// package server (in this process, on the embedded broker or on the Kafka
// of KAFKA_BROKERS), the built command run as a child process where a test
// needs a real kill -9 (crash, chaos, the scanner command), the mirror on
// SQLite and PostgreSQL, and the scanner web app in a browser. It has no
// code of its own; `make chaos`, `make crash` and `make mirror-e2e-long`
// run its long tests.
package e2e
