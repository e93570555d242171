// Package testkit is what invsync's tests share: waiting for a condition
// (Eventually), free loopback addresses, JSON requests to the API, child
// processes of the built command (kill -9 included), the Kafka the tests
// run on (the embedded broker, or KAFKA_BROKERS) and random names.
//
// It is for tests only: every helper takes a testing.TB and fails the test
// on an unexpected error.
package testkit
