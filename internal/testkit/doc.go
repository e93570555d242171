// Package testkit is what invsync's tests share: waiting for a condition
// (Eventually) or for a channel (Receive), free loopback addresses, JSON
// requests to the API (Send, Call), child processes of the built command
// (kill -9 included), the Kafka the tests run on (the embedded broker, or
// KAFKA_BROKERS), random names, a settable clock (Clock), an output buffer
// safe for concurrent writers (Buffer) and a TCP link that cuts, loses and
// delays connections (FaultyLink). Package scannerpage, below it, drives the
// scanner web app in a browser.
//
// It is for tests only: a helper that takes a testing.TB fails the test on
// an unexpected error; Within and Send report theirs instead, for helpers
// that report and for goroutines other than the test's.
package testkit
