// Package iloq is keyward's driver for iLOQ 5 Series locking systems,
// speaking the iLOQ Public API v2 over REST (see lockdrivers/iloq/README.md
// for the mapping, the configuration and the assumptions made where the
// vendor documentation is silent).
//
// The package holds the REST client (Client: session flow, re-login, bounded
// retries of transient failures, typed calls that refuse contradicting
// answers) and the driver (Driver, implementing driver.Driver). The wire
// shapes are in iloqapi; the simulator is in sim.
package iloq
