package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// KafkaSecurityOpts turns the Kafka security flags (shared by serve, mirror,
// tail, token and bench: --kafka-tls, --kafka-tls-ca, --kafka-sasl-mechanism,
// --kafka-sasl-user and the password from INVSYNC_KAFKA_SASL_PASSWORD) into
// client options, reporting every problem, each naming its flag.
func KafkaSecurityOpts(useTLS, caFile, mechanism, user, password string) ([]kgo.Opt, []string) {
	var opts []kgo.Opt
	var errs []string
	on, err := strconv.ParseBool(useTLS)
	if err != nil {
		errs = append(errs, fmt.Sprintf("--kafka-tls: %q is not true or false", useTLS))
	}
	if on || caFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			pool := x509.NewCertPool()
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("--kafka-tls-ca: %v", err))
			case !pool.AppendCertsFromPEM(pem):
				errs = append(errs, fmt.Sprintf("--kafka-tls-ca: %s holds no PEM certificate", caFile))
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	switch strings.ToUpper(mechanism) {
	case "":
		if user != "" {
			errs = append(errs, "--kafka-sasl-user: given without --kafka-sasl-mechanism")
		}
		return opts, errs
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism()))
	default:
		errs = append(errs, fmt.Sprintf("--kafka-sasl-mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", mechanism))
	}
	if user == "" {
		errs = append(errs, "--kafka-sasl-user: required with --kafka-sasl-mechanism")
	}
	if password == "" {
		errs = append(errs, "INVSYNC_KAFKA_SASL_PASSWORD: required with --kafka-sasl-mechanism")
	}
	return opts, errs
}
