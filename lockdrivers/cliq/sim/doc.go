// Package sim is a CLIQ Web Manager (CWM) simulator for tests, the quick
// start and integrators: the SOAP query API v2 (verified element names) and
// the ASSUMED management service of package cwm, over TLS with a client
// certificate required, backed by a physical model of CLIQ keys and
// cylinders. It implements simctl.Control.
//
// The model, each rule pinned by a test in this package:
//   - Keys are normal (access only in cylinders) or dynamic (DYNAMIC_KEY,
//     CONNECT_KEY: access list on the key). CWM holds the configuration; the
//     key carries what it got at its last update at a programming device
//     (DeliverKey). A dynamic key whose configuration differs from what it
//     carries has a pending remote update.
//   - A normal key's access changes by programming jobs, one per cylinder,
//     executed when a programming key visits the cylinder (VisitLock).
//   - Blacklisting is a programming job too; a cylinder's blacklist holds at
//     most BlacklistCapacity keys, and CWM refuses a job beyond that.
//   - Revalidation: a key with a revalidation period stops opening once the
//     period has passed since its last update at a programming device.
//   - Using a key (UseKey) records the event in the key's memory and in the
//     cylinder's ring of CylinderEventMemory events. CWM learns of it only
//     when the key is next updated or a programming key visits the cylinder,
//     so audit trails arrive late, and the same event can arrive twice (once
//     from each); both rows carry the event's identity. CLIQ Connect keys
//     (CONNECT_KEY) are the exception: they open through the phone app,
//     which reports the event at once (ASSUMED from "online opening").
//   - Audit trails are queried by import date (when CWM received them) with
//     firstResult/maxResults paging; persons and keys are soft-deleted.
//   - The clock is the simulator's own (SetTime, Advance).
package sim
