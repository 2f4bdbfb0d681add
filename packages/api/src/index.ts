export const API_PLACEHOLDER = 1;
