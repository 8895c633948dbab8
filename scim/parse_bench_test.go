package scim

import (
	"fmt"
	"testing"
	"time"

	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
)

// BenchmarkFilterParse compares the library's filter parser with keyward's
// single-comparison fast path (both validate against the User schemas).
func BenchmarkFilterParse(b *testing.B) {
	us, es, ks := userSchema(), enterpriseSchema(), keywardUserSchema()
	withCommon := us
	withCommon.Attributes = append(append(schema.Attributes{}, us.Attributes...), schema.CommonAttributes()...)
	const n = 2000
	for b.Loop() {
		t0 := time.Now()
		for i := 0; i < n; i++ {
			v, err := scimfilter.NewValidator(fmt.Sprintf(`userName eq "user%06d@corp.example"`, i), withCommon, es, ks)
			if err != nil || v.Validate() != nil {
				b.Fatal(err)
			}
		}
		lib := time.Since(t0) / n
		t0 = time.Now()
		for i := 0; i < n; i++ {
			if _, err := parseFilter(fmt.Sprintf(`userName eq "user%06d@corp.example"`, i), us, es, ks); err != nil {
				b.Fatal(err)
			}
		}
		fast := time.Since(t0) / n
		b.ReportMetric(float64(lib.Nanoseconds())/1000, "library-us")
		b.ReportMetric(float64(fast.Nanoseconds())/1000, "fastpath-us")
	}
}
