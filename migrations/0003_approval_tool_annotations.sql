-- What the upstream declared about the held tool (readOnlyHint, destructiveHint, …) when the call was held, so
-- every instance shows approvers the same hints whichever instance renders the request.
ALTER TABLE approvals ADD COLUMN tool_annotations jsonb;
