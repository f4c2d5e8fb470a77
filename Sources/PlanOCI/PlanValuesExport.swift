// Image references, platforms and digests are plan's shared value languages (module PlanValues); they are
// part of PlanOCI's API, so PlanOCI users see them without a second import.
@_exported import PlanValues
