// Names for the REST shapes generated from /api/v1/openapi.json (schema.d.ts,
// `npm run gen:api`; a test fails when it is stale).

import type { components } from "./schema";

type S = components["schemas"];

export type Me = S["MeOut"];
export type Grant = S["GrantOut"];
export type Agency = S["AgencyOut"];
export type CrossingPoint = S["CrossingPointOut"];
export type IncidentOut = S["IncidentOut"];
export type IncidentPage = S["IncidentPage"];
export type IncidentCreate = S["IncidentCreate"];
export type MessageOut = S["MessageOut"];
export type MessageWriteOut = S["MessageWriteOut"];
export type AlertOut = S["AlertOut"];
export type AlertIn = S["AlertIn"];
export type TargetOut = S["TargetOut"];
export type EventOut = S["EventOut"];
export type EventPage = S["EventPage"];
export type UserRef = S["UserRef"];
export type AttachmentOut = S["AttachmentOut"];
export type AttachmentList = S["AttachmentList"];
