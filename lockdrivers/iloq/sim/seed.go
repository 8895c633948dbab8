package sim

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// Seed is the simulator's initial content, written in Go or read from a
// YAML or JSON file (LoadSeed). Ids are optional: an empty id becomes a GUID
// derived from the kind and position, so the same file always yields the
// same ids.
//
// Example:
//
//	accessRights:
//	  - {id: 5d2c…, name: North substations, type: api}
//	locks:
//	  - {description: Substation N1 main door, accessRights: [5d2c…]}
//	persons:
//	  - {externalPersonId: E1001, firstName: Ada, lastName: Lovelace}
//	keys:
//	  - {type: phone, person: E1001, phoneNo: "+358401234567",
//	     accessRights: [5d2c…], programmed: true}
type Seed struct {
	Zones        []SeedZone        `yaml:"zones" json:"zones"`
	AccessRights []SeedAccessRight `yaml:"accessRights" json:"accessRights"`
	Locks        []SeedLock        `yaml:"locks" json:"locks"`
	TimeProfiles []SeedTimeProfile `yaml:"timeProfiles" json:"timeProfiles"`
	Persons      []SeedPerson      `yaml:"persons" json:"persons"`
	Keys         []SeedKey         `yaml:"keys" json:"keys"`
	Logs         []SeedLog         `yaml:"logs" json:"logs"`
}

// SeedZone is an administrative zone; Type 4 is the default zone for keys
// and persons (one is created when none is given).
type SeedZone struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
	Type int    `yaml:"type" json:"type"`
}

// SeedAccessRight is a security access: Type "api" (3, default) or
// "standard" (1).
type SeedAccessRight struct {
	ID          string `yaml:"id" json:"id"`
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
	Type        string `yaml:"type" json:"type"`
	// Zone is the right's zone id (default: the default zone).
	Zone string `yaml:"zone" json:"zone"`
}

// SeedLock is a lock and the access rights it accepts.
type SeedLock struct {
	ID            string   `yaml:"id" json:"id"`
	Description   string   `yaml:"description" json:"description"`
	LocationCode  string   `yaml:"locationCode" json:"locationCode"`
	LockingObject string   `yaml:"lockingObject" json:"lockingObject"`
	LockType      *int     `yaml:"lockType" json:"lockType"`
	SerialNumber  int      `yaml:"serialNumber" json:"serialNumber"`
	RealEstateID  string   `yaml:"realEstateId" json:"realEstateId"`
	AllowAPI      *bool    `yaml:"allowApiAccess" json:"allowApiAccess"`
	AccessRights  []string `yaml:"accessRights" json:"accessRights"`
}

// SeedTimeProfile is a time limit title with its weekly clock.
type SeedTimeProfile struct {
	ID      string         `yaml:"id" json:"id"`
	Name    string         `yaml:"name" json:"name"`
	Dynamic bool           `yaml:"dynamic" json:"dynamic"`
	Data    []SeedWeekSlot `yaml:"data" json:"data"`
}

// SeedWeekSlot is one weekly-clock entry: WeekDays is a mask (Mon=1 …
// Sun=64), Start and End are "H:mm".
type SeedWeekSlot struct {
	WeekDays int    `yaml:"weekDays" json:"weekDays"`
	Start    string `yaml:"start" json:"start"`
	End      string `yaml:"end" json:"end"`
}

// SeedPerson is a key holder.
type SeedPerson struct {
	ID               string `yaml:"id" json:"id"`
	ExternalPersonID string `yaml:"externalPersonId" json:"externalPersonId"`
	FirstName        string `yaml:"firstName" json:"firstName"`
	LastName         string `yaml:"lastName" json:"lastName"`
	EMail            string `yaml:"email" json:"email"`
}

// SeedKey is a key. Type is phone, s5 (5 Series key), tag (external RFID),
// fob (S50 fob) or s10; KeyTypeMask overrides it. Person is a person id or
// external person id. Programmed keys carry their plan already (IsProgrammed,
// ProgrammingState 3); dates are locking-system local "2006-01-02T15:04:05".
type SeedKey struct {
	ID                       string   `yaml:"id" json:"id"`
	Type                     string   `yaml:"type" json:"type"`
	KeyTypeMask              int      `yaml:"keyTypeMask" json:"keyTypeMask"`
	Person                   string   `yaml:"person" json:"person"`
	Description              string   `yaml:"description" json:"description"`
	Stamp                    string   `yaml:"stamp" json:"stamp"`
	TagKey                   string   `yaml:"tagKey" json:"tagKey"`
	PhoneNo                  string   `yaml:"phoneNo" json:"phoneNo"`
	AccessRights             []string `yaml:"accessRights" json:"accessRights"`
	StartDate                string   `yaml:"startDate" json:"startDate"`
	EndDate                  string   `yaml:"endDate" json:"endDate"`
	OfflineExpirationSeconds int64    `yaml:"offlineExpirationSeconds" json:"offlineExpirationSeconds"`
	Programmed               bool     `yaml:"programmed" json:"programmed"`
	HandedOut                bool     `yaml:"handedOut" json:"handedOut"`
	NoMainZone               bool     `yaml:"noMainZone" json:"noMainZone"`
}

// SeedLog is an audit-trail row: key used at lock at At, arriving at the
// server at Arrival (default At).
type SeedLog struct {
	ID      string    `yaml:"id" json:"id"`
	Key     string    `yaml:"key" json:"key"`
	Lock    string    `yaml:"lock" json:"lock"`
	At      time.Time `yaml:"at" json:"at"`
	Arrival time.Time `yaml:"arrival" json:"arrival"`
	Refused bool      `yaml:"refused" json:"refused"`
}

// LoadSeed reads a YAML or JSON seed file.
func LoadSeed(path string) (Seed, error) {
	var sd Seed
	b, err := os.ReadFile(path)
	if err != nil {
		return sd, fmt.Errorf("iloq sim: seed: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&sd); err != nil {
		return sd, fmt.Errorf("iloq sim: seed %s: %w", path, err)
	}
	return sd, nil
}

var seedNS = uuid.MustParse("3c1f0a4e-8f5e-4a53-9d89-0f3a6c2b7e11")

func seedID(id, kind string, i int) string {
	if id != "" {
		return id
	}
	return uuid.NewSHA1(seedNS, fmt.Appendf(nil, "%s/%d", kind, i)).String()
}

func keyMask(k SeedKey) (int, error) {
	if k.KeyTypeMask != 0 {
		return k.KeyTypeMask, nil
	}
	switch strings.ToLower(k.Type) {
	case "", "phone":
		return iloqapi.KeyTypeS50Phone, nil
	case "s5", "5series", "key":
		return iloqapi.KeyTypeS5Key, nil
	case "tag", "rfid":
		return iloqapi.KeyTypeExternalTag, nil
	case "fob":
		return iloqapi.KeyS50, nil
	case "s10":
		return iloqapi.KeyS10 | iloqapi.KeyILOQ, nil
	}
	return 0, fmt.Errorf("key type %q (want phone, s5, tag, fob or s10)", k.Type)
}

// Seed adds the seed's content. It fails on the first invalid item, naming
// it; items before it stay.
func (s *Server) Seed(sd Seed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.seedStructure(sd); err != nil {
		return err
	}
	persons := map[string]string{} // external id or id -> person id
	for i, p := range sd.Persons {
		id := seedID(p.ID, "person", i)
		ap := iloqapi.Person{PersonID: id, FirstName: p.FirstName, LastName: p.LastName,
			ExternalPersonID: p.ExternalPersonID, EMail: p.EMail}
		if err := s.addPerson(ap, []string{s.defaultZone()}); err != nil {
			return fmt.Errorf("iloq sim: seed person %d: %s", i, err.msg)
		}
		persons[strings.ToLower(id)] = id
		if p.ExternalPersonID != "" {
			persons[strings.ToLower(p.ExternalPersonID)] = id
		}
	}
	for i, k := range sd.Keys {
		if err := s.seedKey(i, k, persons); err != nil {
			return fmt.Errorf("iloq sim: seed key %d: %w", i, err)
		}
	}
	for i, lg := range sd.Logs {
		if err := s.seedLog(i, lg); err != nil {
			return fmt.Errorf("iloq sim: seed log %d: %w", i, err)
		}
	}
	return nil
}

func (s *Server) seedStructure(sd Seed) error {
	for i, z := range sd.Zones {
		s.st.zones = append(s.st.zones, iloqapi.Zone{ZoneID: seedID(z.ID, "zone", i), Name: z.Name,
			Type: z.Type})
	}
	if s.defaultZone() == "" {
		s.st.zones = append(s.st.zones, iloqapi.Zone{ZoneID: seedID("", "zone", -1),
			Name: "Default zone for keys and persons", Type: 4})
	}
	for i, a := range sd.AccessRights {
		typ := iloqapi.AccessTypeAPI
		switch strings.ToLower(a.Type) {
		case "", "api", "3":
		case "standard", "1":
			typ = iloqapi.AccessTypeStandard
		default:
			return fmt.Errorf("iloq sim: seed access right %d: type %q (want api or standard)", i, a.Type)
		}
		zone := a.Zone
		if zone == "" {
			zone = s.defaultZone()
		}
		sa := iloqapi.SecurityAccess{SecurityAccessID: seedID(a.ID, "access", i), Name: a.Name,
			Description: a.Description, Type: typ, ZoneID: zone}
		if err := s.addAccess(sa); err != nil {
			return fmt.Errorf("iloq sim: seed access right %d: %s", i, err.msg)
		}
	}
	for i, l := range sd.Locks {
		if err := s.seedLock(i, l); err != nil {
			return fmt.Errorf("iloq sim: seed lock %d: %w", i, err)
		}
	}
	for i, tp := range sd.TimeProfiles {
		t := iloqapi.TimeLimitTitle{TimeLimitTitleID: seedID(tp.ID, "profile", i), Name: tp.Name,
			OptionMask: 2}
		if tp.Dynamic {
			t.OptionMask |= 8
		}
		var data []iloqapi.TimeLimitData
		for j, d := range tp.Data {
			data = append(data, iloqapi.TimeLimitData{TimeLimitDataID: seedID("", t.TimeLimitTitleID, j),
				WeekDayMask: d.WeekDays, StartTime: d.Start, EndTime: d.End})
		}
		if err := s.addTitle(t, data); err != nil {
			return fmt.Errorf("iloq sim: seed time profile %d: %s", i, err.msg)
		}
	}
	return nil
}

func (s *Server) seedLock(i int, l SeedLock) error {
	id := seedID(l.ID, "lock", i)
	if s.st.locks[canon(id)] != nil {
		return fmt.Errorf("duplicate id %q", id)
	}
	lt := 3 // C5
	if l.LockType != nil {
		lt = *l.LockType
	}
	lk := &lock{Lock: iloqapi.Lock{FLockID: id, Description: l.Description, LocationCode: l.LocationCode,
		LockingObject: l.LockingObject, LockType: lt, PhysicalState: 1, SerialNumber: l.SerialNumber,
		RealEstateID: l.RealEstateID, ZoneID: s.defaultZone()}, allowAPI: l.AllowAPI == nil || *l.AllowAPI}
	if lk.SerialNumber == 0 {
		lk.SerialNumber = 100000 + i
	}
	for _, a := range l.AccessRights {
		if s.st.accesses[canon(a)] == nil {
			return fmt.Errorf("unknown access right %q", a)
		}
		lk.accesses = append(lk.accesses, canon(a))
	}
	s.st.locks[canon(id)] = lk
	s.st.lockOrder = append(s.st.lockOrder, canon(id))
	return nil
}

func (s *Server) seedKey(i int, k SeedKey, persons map[string]string) error {
	mask, err := keyMask(k)
	if err != nil {
		return err
	}
	p := iloqapi.InsertKeyParam{Key: iloqapi.Key{FNKeyID: seedID(k.ID, "key", i), KeyTypeMask: mask,
		Description: k.Description, Stamp: k.Stamp, TagKey: k.TagKey},
		SecurityAccessIDs: k.AccessRights, OfflineExpirationSeconds: k.OfflineExpirationSeconds}
	if k.Person != "" {
		pid, ok := persons[strings.ToLower(k.Person)]
		if !ok {
			return fmt.Errorf("unknown person %q", k.Person)
		}
		p.Key.PersonID = pid
	}
	for no, d := range []string{k.StartDate, k.EndDate} {
		if d == "" {
			continue
		}
		t, err := time.Parse(iloqapi.LocalLayout, d)
		if err != nil {
			return fmt.Errorf("date %q: want %s", d, iloqapi.LocalLayout)
		}
		p.TimeLimitSlots = append(p.TimeLimitSlots, iloqapi.KeyTimeLimitSlot{SlotNo: no,
			LimitDateLg: &iloqapi.LocalTime{Time: t}})
	}
	kk, aerr := s.addKey(p)
	if aerr != nil {
		return fmt.Errorf("%s", aerr.msg)
	}
	if !k.NoMainZone {
		kk.mainZone = s.defaultZone()
	}
	if k.PhoneNo != "" {
		kk.phone = &iloqapi.KeyPhone{FNKeyID: kk.FNKeyID, PhoneNo: k.PhoneNo, OptionMask: 2}
		s.st.phones[strings.ToLower(k.PhoneNo)] = canon(kk.FNKeyID)
	}
	if k.HandedOut || k.Programmed {
		kk.State = iloqapi.KeyStateHandedOut
	}
	if k.Programmed {
		pkt := kk.planned.clone()
		kk.packet, kk.everOrdered = &pkt, true
		s.st.everOrder++
		s.programLogged(kk, false)
	}
	return nil
}

func (s *Server) seedLog(i int, lg SeedLog) error {
	l := s.st.locks[canon(lg.Lock)]
	if l == nil {
		return fmt.Errorf("unknown lock %q", lg.Lock)
	}
	k := s.st.keys[canon(lg.Key)]
	if k == nil {
		return fmt.Errorf("unknown key %q", lg.Key)
	}
	arrival := lg.Arrival
	if arrival.IsZero() {
		arrival = lg.At
	}
	mask := iloqapi.Log5SeriesKey | iloqapi.LogSuccess
	if lg.Refused {
		mask = iloqapi.Log5SeriesKey | iloqapi.LogFailed
	}
	s.st.logSeq++
	l.counter++
	row := &logRow{typeMask: mask, LockLogData: iloqapi.LockLogData{
		DeviceLogID: seedID(lg.ID, "log", i), AccessTypeMask: mask, FLockID: l.FLockID,
		FNKeyID: k.FNKeyID, GoingCounter: l.counter, GoingDate: iloqapi.NewUTC(lg.At), KeyID: k.num,
		LocationCode: l.LocationCode, LockGroupID: s.opts.LockGroupID, LockingObject: l.LockingObject,
		ReadingDate: iloqapi.NewUTC(arrival), TimestampUtc: iloqapi.NewUTC(arrival)}}
	s.insertLog(row)
	return nil
}
