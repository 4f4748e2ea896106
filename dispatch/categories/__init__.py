"""事件类别: categories with their SLA minutes, "big" flag and department."""
