"""Joint operations run from SOP checklists: templates, operations, tasks, co-signs."""
