package scim

import (
	"encoding/json"
	"testing"

	"github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"
)

// Seeds come from the bug log (iga.md §3): the filters and PATCH bodies real
// clients sent that broke other servers.
var fuzzFilters = []string{
	`userName eq "alice@x"`, `USERNAME EQ "x" AND active eq true`, `externalId eq jyoung`,
	`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
	`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, `emails[type eq "work" and value co "@"]`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42"`,
	`displayName eq "Door \"A\""`, `members eq "u1"`, `not (userName pr)`, `foo pr and`,
	`meta.lastModified gt "2026-01-01T00:00:00Z" and active eq true`, `groups.value eq "g"`,
	`userName eq "o'brien+lab@x"`, `[`, `"`, `eq eq eq`,
}

// FuzzFilterTranslation: any filter is refused with a SCIM error or translated
// into a valid store expression; the in-memory evaluation never panics.
func FuzzFilterTranslation(f *testing.F) {
	for _, s := range fuzzFilters {
		f.Add(s)
	}
	tr := translator{attrs: userAttrs, core: URNUser, exts: []string{URNEnterpriseUser, URNKeywardUser},
		join: func(string, string) ([]string, error) { return []string{"x"}, nil }}
	doc := map[string]any{"userName": "a", "emails": []any{map[string]any{"value": "a@x", "type": "work"}}, "active": true,
		URNEnterpriseUser: map[string]any{"employeeNumber": "42"}}
	us, es, ks := userSchema(), enterpriseSchema(), keywardUserSchema()
	f.Fuzz(func(t *testing.T, raw string) {
		q := quoteBareValues(raw)
		exp, err := parseFilter(q, us, es, ks)
		if err != nil {
			if _, ok := asScim(err); !ok {
				t.Fatalf("%q: not a SCIM error: %v", raw, err)
			}
			return
		}
		res, err := tr.translate(exp)
		if err != nil {
			if _, ok := asScim(err); !ok {
				t.Fatalf("%q: not a SCIM error: %v", raw, err)
			}
			return
		}
		if err := validateExpr(res.Expr); err != nil {
			t.Fatalf("%q: invalid store expression: %v", raw, err)
		}
		_ = tr.matches(exp, doc)
	})
}

// FuzzPatch: any PATCH operation list either applies or fails with a SCIM
// error, and never panics.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`[{"op":"Add","path":"members","value":[{"value":"u-1"}]}]`,
		`[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u-2"}]}]`,
		`[{"op":"remove","path":"members[value eq \"u-2\"]"}]`,
		`[{"op":"replace","value":{"active":false}}]`,
		`[{"op":"replace","value":{"id":"g","displayName":"Lock-Group-7"}}]`,
		`[{"op":"Add","path":"emails[type eq \"work\"].value","value":"b@x"}]`,
		`[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization","value":"C1"}]`,
		`[{"op":"replace","path":"urn:keyward:params:scim:schemas:extension:physical:2.0:User","value":{"location":"x"}}]`,
		`[{"op":"remove","path":"name.givenName"}]`,
		`[{"op":"replace","value":{"name.givenName":"A","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}}]`,
	} {
		f.Add(s)
	}
	sh := newShape(translator{attrs: userAttrs, core: URNUser, exts: []string{URNEnterpriseUser, URNKeywardUser}},
		map[string][]attr{URNUser: attrsOf(mustJSON(userSchema())), URNEnterpriseUser: attrsOf(mustJSON(enterpriseSchema())),
			URNKeywardUser: attrsOf(mustJSON(keywardUserSchema()))})
	f.Fuzz(func(t *testing.T, raw string) {
		var ops []struct {
			Op    string `json:"op"`
			Path  string `json:"path"`
			Value any    `json:"value"`
		}
		if json.Unmarshal([]byte(raw), &ops) != nil {
			return
		}
		var list []scim.PatchOperation
		for _, o := range ops {
			op := scim.PatchOperation{Op: o.Op, Value: o.Value}
			if o.Path != "" {
				p, err := filter.ParsePath([]byte(o.Path))
				if err != nil {
					return
				}
				op.Path = &p
			}
			list = append(list, op)
		}
		doc := map[string]any{"userName": "u", "members": []any{map[string]any{"value": "u-1"}},
			"emails": []any{map[string]any{"value": "a@x"}}, "name": map[string]any{"givenName": "G"}}
		if err := sh.applyPatch(doc, list); err != nil {
			if _, ok := asScim(err); !ok {
				t.Fatalf("%s: not a SCIM error: %v", raw, err)
			}
			return
		}
		if _, err := json.Marshal(doc); err != nil {
			t.Fatalf("%s: the result does not encode: %v", raw, err)
		}
		_ = identityFrom(doc, new(domainIdentity))
		_, _, _, _ = grantsFrom(doc)
	})
}

// FuzzDecodeBody: any request body is decoded to an object or refused with a
// message; never a panic.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"userName":`, `["a"]`, `{} {}`, ` `, `{"a":1e999}`, `{"active":"True"}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, status, msg := decodeBody(b)
		if status == 0 && m == nil || status != 0 && msg == "" {
			t.Fatalf("%q: status %d, message %q", b, status, msg)
		}
	})
}
