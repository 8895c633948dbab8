package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	cliqsim "github.com/keyward/keyward/lockdrivers/cliq/sim"
	iloqsim "github.com/keyward/keyward/lockdrivers/iloq/sim"
)

// simLock is one lock of a lock system: its readable code and its name, the
// same as in the estate (inventory sync and the estate agree on it).
type simLock struct{ code, name string }

// simSystem is what a simulator holds of the estate: locks, and the access
// objects (by readable code) with the locks each opens.
type simSystem struct {
	id      string
	locks   []simLock
	objects []string
	opens   map[string][]string
}

// Persons the simulators know, by employee number (the correlation key the
// replayed IGAs send). Holders 1001-1030 carry a key in every lock system;
// keys beyond them are in stock for `keyward key assign`.
//
// Crews: employees 5001-5500 (170 in the north, 170 in the south, 160 in the
// east) each hold one key, numbered from 101, in their region's lock system
// only; the end-to-end suite's burst of joiners lands on them.
const (
	firstHolder = 1001
	holders     = 30
	stockKeys   = 40
	firstCrew   = 5001
	crewKey     = 101
)

// crews is how many crew members each lock system has, in region order.
var crews = []int{170, 170, 160}

// crew returns the first employee number and the size of a lock system's crew.
func crew(ls string) (int, int) {
	first := firstCrew
	for i, r := range regions {
		if r.ls == ls {
			return first, crews[i]
		}
		first += crews[i]
	}
	return 0, 0
}

var surnames = []string{"Virtanen", "Korhonen", "Nieminen", "Mäkinen", "Hämäläinen", "Laine", "Heikkinen", "Koskinen", "Järvinen", "Lehtonen"}
var givenNames = []string{"Aino", "Eero", "Helmi", "Ilkka", "Kaisa", "Lauri", "Mirja", "Oskari", "Saara", "Tuomas"}

func personName(no int) (string, string) {
	return givenNames[no%len(givenNames)], surnames[(no/len(givenNames))%len(surnames)]
}

func systems() []*simSystem {
	doors := []string{"gate", "control room", "relay room", "transformer yard", "battery room", "meter room"}
	var out []*simSystem
	byID := map[string]*simSystem{}
	for _, r := range regions {
		s := &simSystem{id: r.ls, opens: map[string][]string{}}
		byID[r.ls] = s
		out = append(out, s)
		u := strings.ToUpper(r.id[:1])
		ao := func(x string) string { return r.ao + "-" + u + "-" + x }
		for _, o := range []string{"DIST", "TRANS", "YARD", "BATT", "CAB", "DIST-DAY", "ALL"} {
			s.objects = append(s.objects, ao(o))
		}
		for i := 1; i <= r.substations; i++ {
			for d, door := range doors {
				code := fmt.Sprintf("%s-%s-%02d-%d", r.prefix, u, i, d+1)
				s.locks = append(s.locks, simLock{code, fmt.Sprintf("%s substation %02d %s (%s)", r.name, i, door, code)})
				s.opens[ao("ALL")] = append(s.opens[ao("ALL")], code)
				switch {
				case i <= 3:
					s.opens[ao("TRANS")] = append(s.opens[ao("TRANS")], code)
				case d <= 2 || d == 5: // gate, control, relay and meter rooms
					s.opens[ao("DIST")] = append(s.opens[ao("DIST")], code)
					s.opens[ao("DIST-DAY")] = append(s.opens[ao("DIST-DAY")], code)
				case d == 3:
					s.opens[ao("YARD")] = append(s.opens[ao("YARD")], code)
				}
				if d == 4 {
					s.opens[ao("BATT")] = append(s.opens[ao("BATT")], code)
				}
			}
		}
		for i := 1; i <= 3; i++ {
			code := fmt.Sprintf("%s-%s-CAB-%02d", r.prefix, u, i)
			s.locks = append(s.locks, simLock{code, fmt.Sprintf("%s telecom cabinet %02d (%s)", r.name, i, code)})
			s.opens[ao("CAB")] = append(s.opens[ao("CAB")], code)
			s.opens[ao("ALL")] = append(s.opens[ao("ALL")], code)
		}
	}
	for _, d := range [][3]string{{"dc-1", "cliq-south", "CQ"}, {"dc-2", "protec2-east", "P2"}} {
		s := byID[d[1]]
		halls, visit := "AP-"+strings.ToUpper(strings.ReplaceAll(d[0], "-", ""))+"-HALLS", "AP-"+strings.ToUpper(strings.ReplaceAll(d[0], "-", ""))+"-VISIT"
		s.objects = append(s.objects, halls)
		if d[0] == "dc-1" {
			s.objects = append(s.objects, visit)
		}
		for i := 1; i <= 12; i++ {
			code := fmt.Sprintf("%s-%s-%02d", d[2], strings.ToUpper(d[0]), i)
			s.locks = append(s.locks, simLock{code, fmt.Sprintf("%s door %02d", d[0], i)})
			if i <= 8 || d[0] == "dc-2" {
				s.opens[halls] = append(s.opens[halls], code)
			} else {
				s.opens[visit] = append(s.opens[visit], code)
			}
		}
	}
	east := byID["protec2-east"]
	east.objects = append(east.objects, "AP-TUNNEL")
	for i := 1; i <= 6; i++ {
		code := fmt.Sprintf("P2-TUN-%02d", i)
		east.locks = append(east.locks, simLock{code, fmt.Sprintf("Tunnel shaft %02d", i)})
		east.opens["AP-TUNNEL"] = append(east.opens["AP-TUNNEL"], code)
	}
	return out
}

// KeyCode is the readable code of key n (1-based) of a lock system; its vendor
// id is iloqID(code) in iLOQ and the code itself in CWM.
func keyCode(ls string, n int) string {
	return fmt.Sprintf("%s-KEY-%03d", strings.ToUpper(strings.SplitN(ls, "-", 2)[0]), n)
}

func writeSeeds(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	var lines []byte
	for _, u := range scimUsers() {
		b, err := json.Marshal(u)
		if err != nil {
			return err
		}
		lines = append(append(lines, b...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, "people.jsonl"), lines, 0o644); err != nil {
		return err
	}
	for _, s := range systems() {
		var v any
		if strings.HasPrefix(s.id, "iloq") {
			v = iloqSeed(s)
		} else {
			v = cwmSeed(s)
		}
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		head := fmt.Sprintf("# Simulator seed of %s, generated by `go run ./examples/quickstart/genestate -seeds DIR`.\n", s.id)
		if err := os.WriteFile(filepath.Join(dir, s.id+".yaml"), append([]byte(head), b...), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func iloqSeed(s *simSystem) iloqsim.Seed {
	var sd iloqsim.Seed
	for _, o := range s.objects {
		sd.AccessRights = append(sd.AccessRights, iloqsim.SeedAccessRight{ID: iloqID(o), Name: o, Type: "api"})
	}
	for _, l := range s.locks {
		var acc []string
		for _, o := range s.objects {
			for _, c := range s.opens[o] {
				if c == l.code {
					acc = append(acc, iloqID(o))
				}
			}
		}
		sd.Locks = append(sd.Locks, iloqsim.SeedLock{ID: iloqID(l.code), Description: l.name, LocationCode: l.code, AccessRights: acc})
	}
	for i := 0; i < holders; i++ {
		no := firstHolder + i
		g, f := personName(no)
		sd.Persons = append(sd.Persons, iloqsim.SeedPerson{ID: iloqID(fmt.Sprint("person-", no)), ExternalPersonID: fmt.Sprint(no), FirstName: g, LastName: f})
	}
	for n := 1; n <= holders+stockKeys; n++ {
		k := iloqsim.SeedKey{ID: iloqID(keyCode(s.id, n)), Type: "s5", Description: keyCode(s.id, n), Stamp: keyCode(s.id, n)}
		if n%2 == 1 && n <= holders { // every other key handed out is a phone key, updated remotely
			k.Type, k.PhoneNo = "phone", fmt.Sprintf("+35840%07d", n)
		}
		if n <= holders {
			k.Person, k.Programmed = fmt.Sprint(firstHolder+n-1), true
		}
		sd.Keys = append(sd.Keys, k)
	}
	first, n := crew(s.id)
	for i := 0; i < n; i++ {
		no := first + i
		g, f := personName(no)
		sd.Persons = append(sd.Persons, iloqsim.SeedPerson{ID: iloqID(fmt.Sprint("person-", no)), ExternalPersonID: fmt.Sprint(no), FirstName: g, LastName: f})
		code := keyCode(s.id, crewKey+i)
		sd.Keys = append(sd.Keys, iloqsim.SeedKey{ID: iloqID(code), Type: "s5", Description: code, Stamp: code, Person: fmt.Sprint(no), Programmed: true})
	}
	return sd
}

func cwmSeed(s *simSystem) cliqsim.Seed {
	var sd cliqsim.Seed
	for _, l := range s.locks {
		sd.Cylinders = append(sd.Cylinders, cliqsim.CylinderSeed{Identity: l.code, Name: l.name, Marking: l.code})
	}
	for _, o := range s.objects {
		sd.Profiles = append(sd.Profiles, cliqsim.ProfileSeed{Identity: o, Name: o, Cylinders: s.opens[o]})
	}
	for i := 0; i < holders; i++ {
		no := firstHolder + i
		g, f := personName(no)
		sd.Persons = append(sd.Persons, cliqsim.PersonSeed{Identity: fmt.Sprint("P-", no), FirstName: g, Surname: f, ExternalReference: fmt.Sprint(no)})
	}
	for n := 1; n <= holders+stockKeys; n++ {
		k := cliqsim.KeySeed{Identity: keyCode(s.id, n), Marking: keyCode(s.id, n), Type: "DYNAMIC_KEY"}
		if n%2 == 0 { // every other key is a normal key, updated at a programming device
			k.Type = "NORMAL_KEY"
		}
		if n <= holders {
			k.Holder = fmt.Sprint("P-", firstHolder+n-1)
		}
		sd.Keys = append(sd.Keys, k)
	}
	first, n := crew(s.id)
	for i := 0; i < n; i++ {
		no := first + i
		g, f := personName(no)
		sd.Persons = append(sd.Persons, cliqsim.PersonSeed{Identity: fmt.Sprint("P-", no), FirstName: g, Surname: f, ExternalReference: fmt.Sprint(no)})
		code := keyCode(s.id, crewKey+i)
		sd.Keys = append(sd.Keys, cliqsim.KeySeed{Identity: code, Marking: code, Type: "DYNAMIC_KEY", Holder: fmt.Sprint("P-", no)})
	}
	return sd
}

// person is one of the persons the quick start's replayed IGA provisions.
type person struct {
	no                     int
	function, location     string
	department, contractor string
}

func people() []person {
	var out []person
	for i := 0; i < holders; i++ {
		no := firstHolder + i
		p := person{no: no, function: "field engineer", department: "Field service"}
		switch {
		case i < 8:
			p.location = "north"
		case i < 10:
			p.location, p.function = "north", "transmission engineer"
		case i < 18:
			p.location = "south"
		case i < 20:
			p.location, p.function, p.department = "south", "operator", "data centre operations"
		case i < 28:
			p.location = "east"
		default:
			p.location, p.contractor = "east", "contractor"
		}
		out = append(out, p)
	}
	return out
}

// scimUsers are the SCIM User documents the quick start's IGA sends, one a line.
func scimUsers() []map[string]any {
	var out []map[string]any
	for _, p := range people() {
		g, f := personName(p.no)
		ext := map[string]any{"function": p.function, "location": p.location}
		if p.contractor != "" {
			ext["contractStatus"] = "contractor"
		}
		out = append(out, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
				"urn:keyward:params:scim:schemas:extension:physical:2.0:User"},
			"externalId":  fmt.Sprintf("hr-%d", p.no),
			"userName":    strings.ToLower(g+"."+f) + "@northgrid.example",
			"name":        map[string]any{"givenName": g, "familyName": f},
			"displayName": g + " " + f,
			"active":      true,
			"emails":      []map[string]any{{"value": strings.ToLower(g+"."+f) + "@northgrid.example", "type": "work", "primary": true}},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":  map[string]any{"employeeNumber": fmt.Sprint(p.no), "department": p.department},
			"urn:keyward:params:scim:schemas:extension:physical:2.0:User": ext,
		})
	}
	return out
}
