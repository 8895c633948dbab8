package scim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests below follow the SCIM entries of the bug log in iga.md §3, one test
// (or table row) per entry, named after it; each covers the entry's whole kind.

const (
	urnEnt = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	urnKW  = "urn:keyward:params:scim:schemas:extension:physical:2.0:User"
)

func mustGet(t *testing.T, e *env, path string) map[string]any {
	t.Helper()
	r := e.do(http.MethodGet, path, "")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	return r.body
}

func TestBUG01OpCaseInsensitive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.user("u1")
	for i, op := range []string{"add", "Add", "ADD"} {
		t.Run(op, func(t *testing.T) {
			g := e.group(fmt.Sprintf("g-%d", i))
			r := e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"`+op+`","path":"members","value":[{"value":"`+u+`"}]}`))
			require.Equal(t, http.StatusNoContent, r.status, r.raw)
			assert.Equal(t, []string{u}, e.memberIDs(g))
			r = e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"Replace","path":"displayName","value":"`+fmt.Sprintf("renamed-%d", i)+`"}`))
			require.Equal(t, http.StatusNoContent, r.status, r.raw)
			assert.Equal(t, fmt.Sprintf("renamed-%d", i), mustGet(t, e, "/Groups/"+g)["displayName"])
		})
	}
	t.Run("unknown op", func(t *testing.T) {
		g := e.group("g-unknown")
		r := e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"merge","path":"displayName","value":"x"}`))
		assert.Equal(t, http.StatusBadRequest, r.status, r.raw)
		assert.Equal(t, urnError, r.body["schemas"].([]any)[0])
	})
}

const urnError = "urn:ietf:params:scim:api:messages:2.0:Error"

func TestBUG02StringBooleans(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("post True", func(t *testing.T) {
		r := e.do(http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"emp1","active":"True"}`)
		require.Equal(t, http.StatusCreated, r.status, r.raw)
		assert.Equal(t, true, r.body["active"])
	})
	for i, v := range []string{`"False"`, `"false"`} {
		t.Run("patch "+v, func(t *testing.T) {
			u := e.user(fmt.Sprintf("s%d", i))
			r := e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"Replace","path":"active","value":`+v+`}`))
			require.Equal(t, http.StatusOK, r.status, r.raw)
			assert.Equal(t, false, mustGet(t, e, "/Users/"+u)["active"], "a JSON boolean")
		})
	}
	t.Run("other strings refused", func(t *testing.T) {
		u := e.user("s-bad")
		r := e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"replace","path":"active","value":"maybe"}`))
		assert.Equal(t, http.StatusBadRequest, r.status, r.raw)
		assert.Equal(t, true, mustGet(t, e, "/Users/"+u)["active"])
	})
}

func TestBUG03RemoveMembersByValue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u1, u2 := e.user("u1"), e.user("u2")
	g := e.group("lab")
	r := e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"Add","path":"members","value":[{"value":"`+u1+`"},{"value":"`+u2+`"}]}`))
	require.Equal(t, http.StatusNoContent, r.status, r.raw)
	r = e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"`+u2+`"}]}`))
	require.Equal(t, http.StatusNoContent, r.status, r.raw)
	assert.Equal(t, []string{u1}, e.memberIDs(g), "only u2 removed")
	r = e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"remove","path":"members"}`))
	require.Equal(t, http.StatusNoContent, r.status, r.raw)
	assert.Empty(t, e.memberIDs(g), "no value and no filter clears all")
}

func TestBUG04RemoveMemberByFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u1, u2 := e.user("u1"), e.user("u2")
	g := e.group("lab")
	e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"add","path":"members","value":[{"value":"`+u1+`"},{"value":"`+u2+`"}]}`))
	r := e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"remove","path":"members[value eq \"`+u2+`\"]"}`))
	require.Equal(t, http.StatusNoContent, r.status, r.raw)
	assert.Equal(t, []string{u1}, e.memberIDs(g))
	r = e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"remove","path":"members[value eq \"nobody\"]"}`))
	assert.Equal(t, http.StatusNoContent, r.status, "a filter matching nothing is a no-op: %s", r.raw)
}

func TestBUG05PathlessReplace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, body := range map[string]string{
		"with schemas":    patchBody(`{"op":"replace","value":{"active":false}}`),
		"without schemas": `{"Operations":[{"op":"replace","value":{"active":false}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			u := e.user("p-"+strings.ReplaceAll(name, " ", ""), `"emails":[{"value":"a@x","type":"work"}]`)
			r := e.do(http.MethodPatch, "/Users/"+u, body)
			require.Equal(t, http.StatusOK, r.status, r.raw)
			got := mustGet(t, e, "/Users/"+u)
			assert.Equal(t, false, got["active"])
			assert.Equal(t, "p-"+strings.ReplaceAll(name, " ", ""), got["userName"])
			assert.Len(t, got["emails"], 1, "emails untouched")
		})
	}
}

func TestBUG07RenameWithID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.group("Lock-Group-6")
	r := e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"replace","value":{"id":"`+g+`","displayName":"Lock-Group-7"}}`))
	require.Equal(t, http.StatusNoContent, r.status, r.raw)
	assert.Equal(t, "Lock-Group-7", mustGet(t, e, "/Groups/"+g)["displayName"])
}

func TestBUG08PathlessMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u1, u2 := e.user("u1"), e.user("u2")
	g := e.group("lab")
	r := e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"add","value":{"members":[{"display":"u","value":"`+u1+`"}]}}`))
	require.Equal(t, http.StatusNoContent, r.status, r.raw)
	assert.Equal(t, []string{u1}, e.memberIDs(g), "add appends")
	r = e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"replace","value":{"members":[{"value":"`+u2+`"}]}}`))
	require.Equal(t, http.StatusNoContent, r.status, r.raw)
	assert.Equal(t, []string{u2}, e.memberIDs(g), "replace sets the whole set")
}

func TestBUG09CreateOnAbsentValuePath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, op := range []string{"Add", "Replace"} {
		t.Run(op, func(t *testing.T) {
			u := e.user("w-"+op, `"emails":[{"value":"a@x","primary":true}]`)
			r := e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"`+op+`","path":"emails[type eq \"work\"].value","value":"b@x"}`))
			require.Equal(t, http.StatusOK, r.status, r.raw)
			var work []string
			for _, m := range mustGet(t, e, "/Users/"+u)["emails"].([]any) {
				if em := m.(map[string]any); em["type"] == "work" {
					work = append(work, em["value"].(string))
				}
			}
			assert.Equal(t, []string{"b@x"}, work)
		})
	}
}

func TestBUG12ExtensionURNPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ent := e.group("Server room")
	cases := []struct {
		name, ops string
		check     func(t *testing.T, u map[string]any)
	}{
		{"attribute path", `{"op":"Replace","path":"` + urnKW + `:location","value":"Plant 2"}`,
			func(t *testing.T, u map[string]any) {
				assert.Equal(t, "Plant 2", u[urnKW].(map[string]any)["location"])
			}},
		{"enterprise with other ops", `{"op":"Add","path":"` + urnEnt + `:department","value":"Retail"},{"op":"add","path":"emails[type eq \"work\"].value","value":"c@x"}`,
			func(t *testing.T, u map[string]any) {
				assert.Equal(t, "Retail", u[urnEnt].(map[string]any)["department"])
			}},
		{"bare URN", `{"op":"replace","path":"` + urnKW + `","value":{"contractStatus":"contractor","location":"Depot"}}`,
			func(t *testing.T, u map[string]any) {
				assert.Equal(t, "contractor", u[urnKW].(map[string]any)["contractStatus"])
				assert.Equal(t, "Depot", u[urnKW].(map[string]any)["location"])
			}},
		{"value path inside the extension", `{"op":"add","path":"` + urnKW + `:grants","value":[{"value":"` + ent + `","validUntil":"2030-01-01T00:00:00Z","justification":"shift work"}]},` +
			`{"op":"replace","path":"` + urnKW + `:grants[value eq \"` + ent + `\"].validUntil","value":"2031-01-01T00:00:00Z"}`,
			func(t *testing.T, u map[string]any) {
				gs := u[urnKW].(map[string]any)["grants"].([]any)
				require.Len(t, gs, 1)
				g := gs[0].(map[string]any)
				assert.Equal(t, "2031-01-01T00:00:00Z", g["validUntil"])
				assert.Equal(t, "shift work", g["justification"])
				assert.Equal(t, "iga:iga", g["source"])
			}},
		{"pathless dotted keys", `{"op":"replace","value":{"name.givenName":"Ann","` + urnEnt + `:employeeNumber":"42"}}`,
			func(t *testing.T, u map[string]any) {
				assert.Equal(t, "Ann", u["name"].(map[string]any)["givenName"])
				assert.Equal(t, "42", u[urnEnt].(map[string]any)["employeeNumber"])
			}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := e.user(fmt.Sprintf("ext%d", i))
			r := e.do(http.MethodPatch, "/Users/"+u, patchBody(c.ops))
			require.Equal(t, http.StatusOK, r.status, r.raw)
			c.check(t, mustGet(t, e, "/Users/"+u))
		})
	}
}

func TestBUG14Nulls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n1","addresses":null,"phoneNumbers":null,"title":null,"`+urnEnt+`":{"manager":null}}`)
	require.Equal(t, http.StatusCreated, r.status, r.raw)
	u := r.body["id"].(string)
	g := e.group("lab")
	r = e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+u+`"}]}`))
	require.Equal(t, http.StatusNoContent, r.status, r.raw)
	assert.Equal(t, []string{u}, e.memberIDs(g))
}

func TestBUG15RemoveSubAttribute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.user("r1", `"name":{"givenName":"A","familyName":"B"}`)
	r := e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"remove","path":"name.givenName"}`))
	require.Equal(t, http.StatusOK, r.status, r.raw)
	name := mustGet(t, e, "/Users/"+u)["name"].(map[string]any)
	assert.NotContains(t, name, "givenName")
	assert.Equal(t, "B", name["familyName"])
}

func TestBUG16Idempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.user("i1")
	g := e.group("lab")
	for i := 0; i < 2; i++ {
		r := e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"add","path":"members","value":[{"value":"`+u+`"}]}`))
		require.Equal(t, http.StatusNoContent, r.status, r.raw)
		r = e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"replace","path":"active","value":true}`))
		require.Equal(t, http.StatusOK, r.status, r.raw)
	}
	assert.Equal(t, []string{u}, e.memberIDs(g), "no duplicate member")
	grants := mustGet(t, e, "/Users/"+u)[urnKW].(map[string]any)["grants"].([]any)
	assert.Len(t, grants, 1, "one grant")
}

func TestGroupBFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.user("alice@x", `"externalId":"abc","displayName":"Alice","emails":[{"value":"alice@corp.example","type":"work"}]`)
	e.user("o'brien+lab@x", `"externalId":"jyoung"`)
	bob := e.user("bob@x", `"active":false`)
	door := e.mustCreate("/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Lock 12 – Lab"}`)
	quoted := e.mustCreate("/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Door \"A\""}`)
	cases := []struct {
		name, path string
		want       int
	}{
		{"BUG-18 Eq", `/Users?filter=userName Eq "alice@x"`, 1},
		{"BUG-18 USERNAME", `/Users?filter=USERNAME eq "alice@x"`, 1},
		{"BUG-18 EQ", `/Users?filter=username EQ "alice@x"`, 1},
		{"BUG-18 AND", `/Users?filter=userName eq "alice@x" AND active eq true`, 1},
		{"BUG-18 trailing slash", `/Users/?filter=DisplayName eq "Alice"`, 1},
		{"BUG-19 userName ignores case", `/Users?filter=userName eq "ALICE@X"`, 1},
		{"BUG-19 externalId is case-exact", `/Users?filter=externalId eq "ABC"`, 0},
		{"BUG-19 displayName ignores case", `/Groups?filter=displayName eq "lock 12 – lab"`, 1},
		{"BUG-20 bare value", `/Users?filter=externalId eq jyoung`, 1},
		{"BUG-21 externalId", `/Users?filter=externalId eq "abc"`, 1},
		{"BUG-23 displayName with en dash", `/Groups?excludedAttributes=members&filter=displayName eq "Lock 12 – Lab"`, 1},
		{"BUG-25 quote and plus", `/Users?filter=userName eq "o'brien+lab@x"`, 1},
		{"BUG-25 escaped quotes", `/Groups?filter=displayName eq "Door \"A\""`, 1},
		{"value path", `/Users?filter=emails[type eq "work" and value co "corp"]`, 1},
		{"enterprise URN", `/Users?filter=` + urnEnt + `:employeeNumber pr`, 0},
		{"not", `/Users?filter=not (active eq true)`, 1},
		{"or", `/Users?filter=userName sw "alice" or userName sw "bob"`, 2},
		{"members eq", `/Groups?filter=members eq "` + alice + `"`, 0},
		{"random uuid (BUG-29)", `/Users?filter=userName eq "6f1c1bde-5a52-4e8a-8d0c-6bdfa5b4f0b1"`, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(http.MethodGet, c.path, "")
			assert.Equal(t, c.want, listTotal(t, r), r.raw)
			assert.Equal(t, "urn:ietf:params:scim:api:messages:2.0:ListResponse", r.body["schemas"].([]any)[0])
			assert.NotNil(t, r.body["Resources"], "Resources is [] not null")
		})
	}
	_, _ = bob, quoted
	t.Run("BUG-22 excludedAttributes=members", func(t *testing.T) {
		g := mustGet(t, e, "/Groups/"+door+"?excludedAttributes=members")
		assert.NotContains(t, g, "members")
		assert.Equal(t, door, g["id"])
	})
	t.Run("BUG-22 attributes with URN", func(t *testing.T) {
		u := e.user("emp", `"`+urnEnt+`":{"employeeNumber":"42"}`)
		got := mustGet(t, e, "/Users/"+u+"?attributes="+urnEnt+":employeeNumber")
		assert.Equal(t, u, got["id"])
		assert.Equal(t, map[string]any{"employeeNumber": "42"}, got[urnEnt])
		assert.NotContains(t, got, "userName")
	})
	t.Run("BUG-22 unknown names ignored", func(t *testing.T) {
		got := mustGet(t, e, "/Users/"+alice+"?attributes=userName,nonsense")
		assert.Equal(t, "alice@x", got["userName"])
	})
	t.Run("BUG-24 bad filter is 400 invalidFilter", func(t *testing.T) {
		for _, f := range []string{`foo pr and`, `userName zz "x"`, `nosuch eq "x"`, `active gt true`} {
			r := e.do(http.MethodGet, "/Users?filter="+f, "")
			assert.Equal(t, http.StatusBadRequest, r.status, f)
			assert.Equal(t, "invalidFilter", r.body["scimType"], f)
		}
	})
}

func TestBUG26Delta(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.user("old")
	time.Sleep(20 * time.Millisecond)
	mark := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(20 * time.Millisecond)
	e.user("new")
	g := e.group("lab")
	filter := `/Users?filter=meta.lastModified gt "` + mark + `" and active eq true`
	r := e.do(http.MethodGet, filter, "")
	assert.Equal(t, 1, listTotal(t, r), r.raw)
	r = e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"add","path":"members","value":[{"value":"`+old+`"}]}`))
	require.Equal(t, http.StatusNoContent, r.status, r.raw)
	r = e.do(http.MethodGet, filter, "")
	assert.Equal(t, 2, listTotal(t, r), "granting bumps the user into the delta: %s", r.raw)
}

func TestBUG27Paging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 0; i < 250; i++ {
		_, err := e.eng.Execute(t.Context(), engineActor(), upsert(fmt.Sprintf("p%03d", i)))
		require.NoError(t, err)
	}
	seen := map[string]bool{}
	for i, want := range []int{100, 100, 50} {
		r := e.do(http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=100", 1+i*100), "")
		require.Equal(t, 250, listTotal(t, r))
		res := r.body["Resources"].([]any)
		require.Len(t, res, want)
		assert.Equal(t, json.Number(fmt.Sprint(want)), r.body["itemsPerPage"])
		assert.Equal(t, json.Number(fmt.Sprint(1+i*100)), r.body["startIndex"])
		for _, x := range res {
			id := x.(map[string]any)["id"].(string)
			assert.False(t, seen[id], "duplicate across pages")
			seen[id] = true
		}
	}
	r := e.do(http.MethodGet, "/Users?count=0", "")
	assert.Equal(t, 250, listTotal(t, r))
	assert.Empty(t, r.body["Resources"])
	r = e.do(http.MethodGet, "/Users?startIndex=0&count=1", "")
	first := r.body["Resources"].([]any)[0]
	r = e.do(http.MethodGet, "/Users?startIndex=1&count=1", "")
	assert.Equal(t, first, r.body["Resources"].([]any)[0], "startIndex below 1 reads as 1")
}

func TestGroupDContentAndErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ct-%s"}`
	for _, ct := range []string{"application/scim+json; charset=utf-8", "application/json", "application/json; charset=utf-8"} {
		t.Run("BUG-30 "+ct, func(t *testing.T) {
			r := e.do(http.MethodPost, "/Users", fmt.Sprintf(body, url.QueryEscape(ct)), "Content-Type", ct)
			assert.Equal(t, http.StatusCreated, r.status, r.raw)
		})
	}
	t.Run("BUG-31 and BUG-32 every response is SCIM JSON", func(t *testing.T) {
		for _, c := range []struct{ method, path, body, token string }{
			{http.MethodGet, "/Users", "", e.token},
			{http.MethodGet, "/Users/nope", "", e.token},
			{http.MethodGet, "/Nope", "", e.token},
			{http.MethodGet, "/ServiceProviderConfig", "", e.token},
			{http.MethodGet, "/Schemas", "", e.token},
			{http.MethodGet, "/Users", "", ""},
			{http.MethodPost, "/Users", "{not json", e.token},
			{http.MethodPost, "/Schemas", "{}", e.token},
		} {
			r := e.doAs(c.token, c.method, c.path, c.body)
			assert.Equal(t, "application/scim+json", r.header.Get("Content-Type"), c.path)
			if r.status >= 400 {
				assert.Equal(t, urnError, r.body["schemas"].([]any)[0], c.path)
				assert.IsType(t, "", r.body["status"], "status is a string")
				assert.NotEmpty(t, r.body["detail"])
			}
		}
	})
	t.Run("BUG-33 duplicate userName in another case is 409", func(t *testing.T) {
		e.user("dup@x")
		r := e.do(http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"DUP@X"}`)
		assert.Equal(t, http.StatusConflict, r.status, r.raw)
		assert.Equal(t, "uniqueness", r.body["scimType"])
		e.group("Door")
		r = e.do(http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"door"}`)
		assert.Equal(t, http.StatusConflict, r.status, r.raw)
	})
	t.Run("BUG-34 201 with Location and the full resource", func(t *testing.T) {
		r := e.do(http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"loc"}`)
		require.Equal(t, http.StatusCreated, r.status)
		assert.NotEmpty(t, r.header.Get("Location"))
		assert.NotEmpty(t, r.body["id"])
		assert.NotEmpty(t, r.body["meta"])
	})
	t.Run("BUG-35 PATCH user 200 with the changed resource", func(t *testing.T) {
		u := e.user("p35")
		r := e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"replace","path":"displayName","value":"After"}`))
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "After", r.body["displayName"])
	})
	t.Run("BUG-36 If-Match", func(t *testing.T) {
		u := e.user("etag")
		r := e.do(http.MethodGet, "/Users/"+u, "")
		etag := r.header.Get("Etag")
		require.NotEmpty(t, etag)
		r = e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"replace","path":"title","value":"x"}`), "If-Match", `W/"stale"`)
		assert.Equal(t, http.StatusPreconditionFailed, r.status, r.raw)
		assert.NotContains(t, mustGet(t, e, "/Users/"+u), "title", "no change")
		r = e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"replace","path":"title","value":"x"}`), "If-Match", etag)
		assert.Equal(t, http.StatusOK, r.status, r.raw)
		r = e.do(http.MethodPut, "/Users/"+u, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"etag"}`, "If-Match", "*")
		assert.Equal(t, http.StatusOK, r.status, r.raw)
		r = e.do(http.MethodDelete, "/Users/"+u, "", "If-Match", etag)
		assert.Equal(t, http.StatusPreconditionFailed, r.status, "the old etag is stale now")
		r = e.do(http.MethodGet, "/Users/"+u, "")
		cur := r.header.Get("Etag")
		r = e.do(http.MethodGet, "/Users/"+u, "", "If-None-Match", cur)
		assert.Equal(t, http.StatusNotModified, r.status)
		spc := mustGet(t, e, "/ServiceProviderConfig")
		assert.Equal(t, true, spc["etag"].(map[string]any)["supported"])
	})
}

func TestGroupEPutAndSchemas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.group("lab")
	t.Run("BUG-37 and BUG-41 PUT and PATCH deactivate, user stays retrievable", func(t *testing.T) {
		a := e.user("put", `"emails":[{"value":"p@x","type":"work"}]`)
		b := e.user("patch")
		for _, u := range []string{a, b} {
			r := e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"add","path":"members","value":[{"value":"`+u+`"}]}`))
			require.Equal(t, http.StatusNoContent, r.status)
		}
		r := e.do(http.MethodPut, "/Users/"+a, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"put","active":false,"password":"s3cret","groups":[],"emails":[{"value":"p@x","type":"work"}]}`)
		require.Equal(t, http.StatusOK, r.status, r.raw)
		assert.NotContains(t, r.body, "password", "never returned")
		r = e.do(http.MethodPatch, "/Users/"+b, patchBody(`{"op":"replace","value":{"active":false}}`))
		require.Equal(t, http.StatusOK, r.status, r.raw)
		for _, u := range []string{a, b} {
			got := mustGet(t, e, "/Users/"+u)
			assert.Equal(t, false, got["active"])
		}
		r = e.do(http.MethodGet, `/Users?filter=active eq false`, "")
		assert.Equal(t, 2, listTotal(t, r))
		assert.ElementsMatch(t, []string{a, b}, e.memberIDs(g), "PUT without grants keeps them (restorable on active=true)")
	})
	t.Run("BUG-40 schemas are accurate", func(t *testing.T) {
		s := mustGet(t, e, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
		byName := map[string]map[string]any{}
		for _, a := range s["attributes"].([]any) {
			m := a.(map[string]any)
			byName[m["name"].(string)] = m
		}
		assert.Equal(t, "readOnly", byName["groups"]["mutability"])
		assert.Equal(t, "readWrite", byName["displayName"]["mutability"])
		assert.Equal(t, "never", byName["password"]["returned"])
		spc := mustGet(t, e, "/ServiceProviderConfig")
		scheme := spc["authenticationSchemes"].([]any)[0].(map[string]any)
		assert.Contains(t, scheme, "specUri")
		assert.NotEmpty(t, spc["documentationUri"])
	})
}

func TestGroupFDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, p := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/User", "/ResourceTypes/Group",
		"/Schemas", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "/schemas", "/resourcetypes/user", "/Entitlements", "/Roles", "/Locks"} {
		t.Run("BUG-42 "+p, func(t *testing.T) {
			r := e.do(http.MethodGet, p, "")
			assert.Equal(t, http.StatusOK, r.status, r.raw)
		})
	}
	t.Run("BUG-43 catalogue items have id, value, displayName", func(t *testing.T) {
		g := e.group("North substations 24/7")
		l := mustGet(t, e, "/Entitlements")
		res := l["Resources"].([]any)
		require.Len(t, res, 1)
		m := res[0].(map[string]any)
		assert.Equal(t, g, m["id"])
		assert.Equal(t, g, m["value"])
		assert.Equal(t, "North substations 24/7", m["displayName"])
	})
	t.Run("BUG-44 Okta OIG resource type and typed user entitlements", func(t *testing.T) {
		rt := mustGet(t, e, "/ResourceTypes/Entitlement")
		assert.Equal(t, "/Entitlements", rt["endpoint"])
		assert.Equal(t, "urn:okta:scim:schemas:core:1.0:Entitlement", rt["schema"])
		g := e.group("Lab door")
		u := e.user("oig")
		r := e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"add","path":"entitlements","value":[{"value":"`+g+`"}]}`))
		require.Equal(t, http.StatusOK, r.status, r.raw)
		ents := r.body["entitlements"].([]any)
		require.Len(t, ents, 1)
		assert.Equal(t, map[string]any{"value": g, "display": "Lab door", "type": "Entitlement"}, ents[0])
		assert.Equal(t, []string{u}, e.memberIDs(g), "the same grant, seen as membership")
		r = e.do(http.MethodPatch, "/Users/"+u, patchBody(`{"op":"remove","path":"entitlements[value eq \"`+g+`\"]"}`))
		require.Equal(t, http.StatusOK, r.status, r.raw)
		assert.Empty(t, e.memberIDs(g))
	})
}

func TestGroupGClientQuirks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("BUG-47 Entra group push: empty create, then 150 members in one PATCH", func(t *testing.T) {
		r := e.do(http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"aad-1","displayName":"Entra group","members":[],"meta":{"resourceType":"Group"}}`)
		require.Equal(t, http.StatusCreated, r.status, r.raw)
		g := r.body["id"].(string)
		var vals []string
		for i := 0; i < 150; i++ {
			_, err := e.eng.Execute(t.Context(), engineActor(), upsertID(fmt.Sprintf("m%03d", i)))
			require.NoError(t, err)
			vals = append(vals, fmt.Sprintf(`{"$ref":null,"value":"id-m%03d"}`, i))
		}
		r = e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"Add","path":"members","value":[`+strings.Join(vals, ",")+`]}`))
		require.Equal(t, http.StatusNoContent, r.status, r.raw)
		assert.Len(t, e.memberIDs(g), 150)
		// atomic: one unknown member refuses the whole request
		r = e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"remove","path":"members","value":[{"value":"id-m000"}]},{"op":"add","path":"members","value":[{"value":"nobody"}]}`))
		assert.Equal(t, http.StatusBadRequest, r.status, r.raw)
		assert.Len(t, e.memberIDs(g), 150, "nothing applied")
	})
	t.Run("BUG-48 an unchanged rename is a no-op", func(t *testing.T) {
		g := e.group("Same name")
		before := mustGet(t, e, "/Groups/"+g)["meta"].(map[string]any)["version"]
		r := e.do(http.MethodPatch, "/Groups/"+g, patchBody(`{"op":"replace","value":{"id":"`+g+`","displayName":"Same name"}}`))
		require.Equal(t, http.StatusNoContent, r.status)
		after := mustGet(t, e, "/Groups/"+g)["meta"].(map[string]any)["version"]
		assert.Equal(t, before, after)
	})
}
