package ingest

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
)

func (s *Server) schemaByID(c *gin.Context) {
	id, err := strconv.Atoi(c.Param("id"))
	text, ok := s.cfg.Schemas.SchemaByID(id)
	if err != nil || !ok {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error_code": 40403, "message": "Schema " + c.Param("id") + " not found",
			"error": gin.H{"code": api.CodeSchemaNotFound, "message": "no schema with id " + c.Param("id")}})
		return
	}
	c.JSON(http.StatusOK, gin.H{"schema": text})
}

func (s *Server) subjects(c *gin.Context) { c.JSON(http.StatusOK, s.cfg.Schemas.Subjects()) }

func (s *Server) subjectVersion(c *gin.Context) {
	sv, ok := s.cfg.Schemas.SubjectVersion(c.Param("subject"), c.Param("version"))
	if !ok {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error_code": 40401, "message": "Subject or version not found",
			"error": gin.H{"code": api.CodeSubjectNotFound, "message": "no version " + c.Param("version") + " of subject " + c.Param("subject")}})
		return
	}
	c.JSON(http.StatusOK, sv)
}
