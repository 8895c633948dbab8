package ldap_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store/sqlite"
	"github.com/keyward/keyward/ldap"
)

// ExampleNewServer serves the directory view of a store over LDAPS and StartTLS,
// with the quick start's certificate and service account.
func ExampleNewServer() {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, "keyward.db")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	eng := engine.New(st, engine.Options{})
	qs, err := ldap.PrepareQuickStart("state", "quickstart")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := ldap.NewServer(eng, ldap.Config{
		BaseDN:   "dc=keyward,dc=local",
		Addr:     "127.0.0.1:1389",
		TLSAddr:  "127.0.0.1:1636",
		TLS:      qs.TLS,
		Accounts: []ldap.Account{qs.Account},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	fmt.Println(qs.Command(srv.TLSAddr(), "dc=keyward,dc=local"))
}
